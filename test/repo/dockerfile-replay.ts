/**
 * docker/Dockerfile replayed without a Docker engine (none runs on this project's machines): its
 * instructions read from the file, each stage built in a folder of its own standing for the
 * stage's file system, every RUN of a build stage run as written (with the stage's WORKDIR and
 * ENV), every COPY done from the build context or from the stage it names. What an engine would
 * add and this cannot (the base image's own files, root's work on the container's file system,
 * the user switch, the network) is listed, not skipped silently: an instruction this replay does
 * not know fails it, so that a change to the Dockerfile cannot drift past the test.
 */
import { spawn } from 'node:child_process'
import { cp, mkdir, readFile, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'

export interface Instruction { op: string, args: string, line: number }

export interface Stage {
  name: string
  /** The folder standing for the stage's file system: a container path /x is `${root}/x`. */
  root: string
  workdir: string
  env: Record<string, string>
  /** What the stage declares for the container that runs it. */
  entrypoint?: string[]
  cmd?: string[]
  healthcheck?: string[]
  user?: string
  expose: number[]
  volumes: string[]
  /** RUN lines of the last stage: root's work on the container's file system, not replayed. */
  notReplayed: string[]
}

/** The Dockerfile's instructions, continuation lines joined, comments and parser directives left out. */
export function instructions (text: string): Instruction[] {
  const out: Instruction[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const start = i
    let line = lines[i].trim()
    if (line === '' || line.startsWith('#')) continue
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++
      const next = lines[i].trim()
      if (next.startsWith('#')) continue
      line = line.slice(0, -1).trimEnd() + ' ' + next
    }
    const m = /^([A-Za-z]+)\s+([\s\S]*)$/.exec(line)
    if (m === null) throw new Error(`Dockerfile line ${start + 1}: not an instruction: ${line}`)
    out.push({ op: m[1].toUpperCase(), args: m[2].trim(), line: start + 1 })
  }
  return out
}

/** An exec-form (JSON array) argument, as ENTRYPOINT, CMD and HEALTHCHECK's CMD take it. */
function execForm (args: string, where: Instruction): string[] {
  const parsed: unknown = JSON.parse(args)
  if (!Array.isArray(parsed) || !parsed.every(a => typeof a === 'string')) throw new Error(`Dockerfile line ${where.line}: ${where.op} in exec form expected`)
  return parsed
}

/** ENV k=v k2=v2 (values without spaces or quotes: what this Dockerfile writes). */
function envPairs (args: string, where: Instruction): Array<[string, string]> {
  return args.split(/\s+/).map(pair => {
    const at = pair.indexOf('=')
    if (at <= 0 || /["']/.test(pair)) throw new Error(`Dockerfile line ${where.line}: ENV ${pair}: only k=v pairs without quotes are replayed`)
    return [pair.slice(0, at), pair.slice(at + 1)]
  })
}

export interface ReplayOptions {
  /** The build context: the repository root (what .dockerignore lets through is checked elsewhere). */
  context: string
  /** Where the stages' folders are made. */
  dir: string
  /** Each RUN as it starts, for the test's log. */
  log?: (line: string) => void
  signal?: AbortSignal
}

/** Run `command` with sh, as RUN's shell form does; rejects with its output when it fails. */
async function run (command: string, cwd: string, env: Record<string, string>, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(signal !== undefined ? { signal } : {}) })
    let output = ''
    child.stdout.on('data', (d) => { output += String(d) })
    child.stderr.on('data', (d) => { output += String(d) })
    child.on('error', reject)
    child.on('exit', (code) => { code === 0 ? resolve() : reject(new Error(`RUN ${command} exited ${code}:\n${output.slice(-4000)}`)) })
  })
}

const inside = (stage: Stage, path: string): string => join(stage.root, path.startsWith('/') ? path : join(stage.workdir, path))

/** Replays every stage in order; returns them, the last one being the image. */
export async function replay (dockerfile: string, options: ReplayOptions): Promise<Stage[]> {
  const stages: Stage[] = []
  const all = instructions(dockerfile)
  const lastFrom = all.map(i => i.op).lastIndexOf('FROM')
  for (const [index, ins] of all.entries()) {
    const stage = stages.at(-1)
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)
      if (m === null) throw new Error(`Dockerfile line ${ins.line}: FROM ${ins.args}`)
      const name = m[2] ?? `stage-${stages.length}`
      const root = join(options.dir, name)
      await mkdir(root, { recursive: true })
      stages.push({ name, root, workdir: '/', env: {}, expose: [], volumes: [], notReplayed: [] })
      continue
    }
    if (stage === undefined) {
      if (ins.op === 'ARG') continue
      throw new Error(`Dockerfile line ${ins.line}: ${ins.op} before FROM`)
    }
    const last = index > lastFrom
    switch (ins.op) {
      case 'WORKDIR':
        stage.workdir = ins.args.startsWith('/') ? ins.args : join(stage.workdir, ins.args)
        await mkdir(join(stage.root, stage.workdir), { recursive: true })
        break
      case 'ENV':
        for (const [k, v] of envPairs(ins.args, ins)) stage.env[k] = v
        break
      case 'COPY': {
        const words = ins.args.split(/\s+/)
        const flags = words.filter(w => w.startsWith('--'))
        const paths = words.filter(w => !w.startsWith('--'))
        const fromFlag = flags.find(f => f.startsWith('--from='))
        const unknown = flags.filter(f => f !== fromFlag)
        if (unknown.length > 0) throw new Error(`Dockerfile line ${ins.line}: COPY ${unknown.join(' ')} is not replayed`)
        const from = fromFlag === undefined ? undefined : stages.find(s => s.name === fromFlag.slice('--from='.length))
        if (fromFlag !== undefined && from === undefined) throw new Error(`Dockerfile line ${ins.line}: no stage ${fromFlag}`)
        const dest = paths.at(-1) as string
        const sources = paths.slice(0, -1)
        const intoFolder = dest.endsWith('/') || sources.length > 1
        for (const source of sources) {
          const src = from === undefined ? join(options.context, source) : inside(from, source)
          const target = intoFolder ? join(inside(stage, dest), basename(source)) : inside(stage, dest)
          // A folder's contents go to the destination (Docker's rule), a file to its path.
          const isDir = (await stat(src)).isDirectory()
          await mkdir(isDir ? target : join(target, '..'), { recursive: true })
          await cp(src, target, { recursive: true, verbatimSymlinks: true })
        }
        break
      }
      case 'RUN':
        if (last) { stage.notReplayed.push(ins.args); break }
        options.log?.(`[${stage.name}] RUN ${ins.args}`)
        await run(ins.args, join(stage.root, stage.workdir), stage.env, options.signal)
        break
      case 'ENTRYPOINT': stage.entrypoint = execForm(ins.args, ins); break
      case 'CMD': stage.cmd = execForm(ins.args, ins); break
      case 'HEALTHCHECK': {
        const at = ins.args.indexOf('CMD ')
        if (at < 0) throw new Error(`Dockerfile line ${ins.line}: HEALTHCHECK without CMD`)
        stage.healthcheck = execForm(ins.args.slice(at + 4), ins)
        break
      }
      case 'USER': stage.user = ins.args; break
      case 'EXPOSE': stage.expose.push(...ins.args.split(/\s+/).map(p => Number(p.split('/')[0]))); break
      case 'VOLUME': stage.volumes.push(...ins.args.split(/\s+/)); break
      default:
        throw new Error(`Dockerfile line ${ins.line}: ${ins.op} is not replayed by test/repo/dockerfile-replay.ts: teach it`)
    }
  }
  return stages
}

/** The Dockerfile's text. */
export async function dockerfileText (context: string): Promise<string> {
  return await readFile(join(context, 'docker', 'Dockerfile'), 'utf8')
}
