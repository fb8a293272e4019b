/**
 * The README run top to bottom as a newcomer runs it (issue 44: steps that each worked alone broke
 * when followed in order): every line of its ```sh blocks, in order, in ONE working directory and
 * ONE HOME (both temporary), with the quick start's open variant (the prose after its block) run
 * after the closed one. cli-quickstart.test, readme.test and gateway-doc.test run parts alone.
 *
 * What differs from typing the lines, each said here:
 * - `node dist/surfaces/cli/main.js` and `agentmesh` are this checkout's CLI by absolute path
 *   (the working directory is not the checkout: the quick start writes its keys where it runs).
 * - `npm run demo` runs in the checkout (npm finds its script there); `npm ci` before it is not run.
 * - `<id>` is the peer id the a1 running at that point printed.
 * - The long-running commands (`start`, `sub`, `npm run demo`) run in the background, as in a
 *   terminal of their own; each passes once it printed its ready line (or its first event), and is
 *   stopped with SIGINT (Ctrl-C), exiting 0: the demo once it is up, as the README says; the closed
 *   quick start's nodes before the open variant, whose `start` lines take the same ports (a reader
 *   must stop them, and the README says so); every other one at the end.
 * - The ports are those printed (7001-7003, 8001, 8080): one in use skips the test, naming it.
 * - `curl` lines are made with fetch (the same method, header, body and URL), to read the status.
 * - Lines that install, build, run the suite or need Docker are not run (SKIPS, each with the test
 *   that covers it); they are listed in the test's output. A line neither run nor listed fails.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { CLI, DIST, Proc, waitFor } from '../helpers.js'

const ROOT = join(DIST, '..')
const PORTS = [7001, 7002, 7003, 8001, 8080]

/** Lines not run here, each with why and what runs it instead. */
const SKIPS: Array<[RegExp, string]> = [
  [/^npm ci$/, 'installs and builds the checkout: this test runs from its build'],
  [/^npm ci && npm test$/, 'the suite this test is part of'],
  [/^cd agentmesh && npm ci && npm pack$/, 'npm ci and npm pack: readme.test packs the checkout and installs the tarball'],
  [/^cd \.\.\/my-agent && npm pkg set /, 'sets up another project: readme.test makes one the same way'],
  [/^npm install \.\.\/agentmesh\//, 'installs into another project: readme.test'],
  [/^export AGENTMESH_DEBUG_TOKEN=/, 'the token of docker compose\'s debug port: docker.test'],
  [/^docker compose /, 'needs a Docker engine: docker.test and docker-image.test replay the image and compose'],
  [/^curl -H "Authorization: Bearer \$AGENTMESH_DEBUG_TOKEN" /, 'compose\'s bootstrap node: docker.test']
]

interface Step { section: string, text: string }

/** The README's ```sh blocks in order, as steps: comments dropped, `\` continuations and a `for … done` joined. */
function steps (readme: string): Step[] {
  const out: Step[] = []
  for (const m of readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    const section = [...readme.slice(0, m.index).matchAll(/^## (.*)$/gm)].at(-1)?.[1] ?? '(top)'
    const raw = m[1].replace(/\\\n\s*/g, '').split('\n').map(l => l.replace(/\s+#\s.*$/, '').trimEnd()).filter(l => l.trim() !== '' && !l.trim().startsWith('#'))
    for (let i = 0; i < raw.length; i++) {
      if (raw[i].startsWith('for ')) {
        const end = raw.findIndex((l, j) => j > i && l.trim() === 'done')
        assert.ok(end > i, `${section}: a for without done`)
        out.push({ section, text: raw.slice(i, end + 1).join('\n') })
        i = end
      } else out.push({ section, text: raw[i] })
    }
  }
  return out
}

/** Words of a shell line as sh would split them (enough for the README: single quotes only). */
function words (line: string): string[] {
  return (line.match(/'[^']*'|\S+/g) ?? []).map(w => w.replace(/^'(.*)'$/, '$1'))
}

const CLI_PREFIX = /^(node dist\/surfaces\/cli\/main\.js|agentmesh) /

async function portInUse (port: number): Promise<boolean> {
  const server = createServer()
  return await new Promise(resolve => {
    server.once('error', () => { resolve(true) })
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(false) }) })
  })
}

/** The walk's state: its directory and HOME, what runs in the background, the a1 of the moment. */
class Walk {
  readonly background: Array<{ step: string, proc: Proc }> = []
  readonly skipped: string[] = []
  id: string | undefined
  constructor (readonly t: TestContext, readonly cwd: string, readonly home: string) {}

  env (): NodeJS.ProcessEnv { return { HOME: this.home } }

  substitute (text: string): string {
    if (!text.includes('<id>')) return text
    assert.ok(this.id !== undefined, `"${text}" needs a1's peer id, and no a1 printed one yet`)
    return text.replaceAll('<id>', this.id)
  }

  async step (s: Step): Promise<void> {
    const text = s.text.trim()
    const skip = SKIPS.find(([re]) => re.test(text))
    if (skip !== undefined) { this.skipped.push(`${s.section}: \`${text}\`: ${skip[1]}`); return }
    this.t.diagnostic(`${s.section}: ${text.split('\n')[0]}`)
    if (text === 'npm ci && npm run demo') { this.skipped.push(`${s.section}: \`npm ci\` of \`${text}\`: this test runs from the checkout's build`); await this.demo(); return }
    if (text.startsWith('for ')) { await this.shell(text); return }
    if (text.startsWith('curl ')) { await this.curl(text); return }
    if (CLI_PREFIX.test(text)) { await this.cli(this.substitute(text.replace(CLI_PREFIX, ''))); return }
    assert.fail(`${s.section}: a README line this test neither runs nor skips (add it to SKIPS with why, or run it): ${text}`)
  }

  /** `npm run demo` until its mesh is up and has a coordinator, then Ctrl-C (SIGINT to its process group, as a terminal sends it). */
  async demo (): Promise<void> {
    const child = spawn('npm', ['run', 'demo'], { cwd: ROOT, env: { ...clean(), HOME: this.home, npm_config_update_notifier: 'false' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    const lines: string[] = []
    let stderr = ''
    createInterface({ input: child.stdout }).on('line', l => { lines.push(l) })
    child.stderr.on('data', d => { stderr += String(d) })
    const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => { child.once('exit', (code, signal) => { resolve({ code, signal }) }) })
    const group = (signal: NodeJS.Signals): void => { try { process.kill(-(child.pid as number), signal) } catch {} }
    try {
      const up = (): boolean => lines.some(l => l.startsWith('Ctrl-C stops the mesh.')) && lines.some(l => / elected coordinator \(term \d+\)$/.test(l))
      await waitFor(() => up() || child.exitCode !== null, 'npm run demo: its agents listed and a coordinator elected', 120_000)
      assert.ok(up(), `npm run demo exited (${child.exitCode}) before it was up:\n${lines.join('\n')}\n${stderr}`)
      assert.ok(lines.some(l => /^agentmesh: 5 agents in mesh "demo-\d+", each its own process:$/.test(l)), lines.join('\n'))
      group('SIGINT')
      await waitFor(() => child.exitCode !== null || child.signalCode !== null, 'npm run demo to stop on Ctrl-C', 60_000)
      // npm itself ends by the SIGINT it got (a shell shows 130), once the demo it ran has exited.
      const { code, signal } = await exited
      assert.ok(code === 0 || signal === 'SIGINT', `npm run demo after Ctrl-C: exit ${code} ${signal}:\n${lines.slice(-10).join('\n')}\n${stderr}`)
      assert.ok(lines.includes('agentmesh: all 5 agents stopped'), lines.slice(-10).join('\n'))
    } finally {
      if (child.exitCode === null && child.signalCode === null) { group('SIGKILL'); await exited }
    }
  }

  /** The quick start's `for` loop, as sh runs it, with the CLI's path put in. */
  async shell (script: string): Promise<void> {
    const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} `
    const text = script.split('\n').map(l => l.replace(/^(\s*)node dist\/surfaces\/cli\/main\.js /, `$1${cli}`)).join('\n')
    const { code, stdout, stderr } = await exec('sh', ['-e', '-c', text], this.cwd, { ...clean(), ...this.env() })
    assert.equal(code, 0, `${script}\n${stdout}\n${stderr}`)
  }

  async cli (line: string): Promise<void> {
    const args = words(line)
    const command = args[0]
    if (command === 'start' || command === 'sub') { await this.inTerminal(line, args); return }
    const { code, stdout, stderr } = await exec(process.execPath, [CLI, ...args], this.cwd, { ...clean(), ...this.env() })
    assert.equal(code, 0, `${line}\nstdout:\n${stdout}\nstderr:\n${stderr}`)
    const out = stdout.split('\n')
    if (command === 'mesh') assert.match(stdout, /^created \S+ \(mesh \S+\)/m, stdout)
    if (command === 'credential') assert.match(stdout, /^wrote \S+\.cred\.json: 12D3KooW\w+ in mesh \S+/m, stdout)
    if (command === 'status') {
      // The table's rows: the three agents of the quick start, one the coordinator.
      const rows = out.slice(out.findIndex(l => l.startsWith('-----')) + 1).filter(l => l.trim() !== '')
      assert.deepEqual(rows.map(r => r.split(/\s+/)[0]).sort(), ['a1', 'a2', 'a3'], stdout)
      assert.equal(rows.filter(r => /\syes\s+12D3KooW/.test(r)).length, 1, `one coordinator:\n${stdout}`)
    }
    if (command === 'request') assert.deepEqual(JSON.parse(stdout), JSON.parse(args.at(-1) as string), stdout)
    if (command === 'pub') {
      assert.match(stdout, new RegExp(`^published 1 on ${args.at(-2) as string}`), stdout)
      // The sub started before it prints the event: its first one.
      for (const { proc } of this.background.filter(b => b.step.startsWith('sub '))) {
        const event = new RegExp(`^\\[${args.at(-2) as string}\\] 12D3KooW\\w+: ${escape(args.at(-1) as string)}$`)
        await waitFor(() => proc.lines.some(l => event.test(l)) || proc.child.exitCode !== null, `the sub to print the event \`${line}\` published`, 60_000)
        assert.ok(proc.lines.some(l => event.test(l)), `sub exited (${proc.child.exitCode}): ${proc.lines.join('\n')}\n${proc.stderr}`)
      }
    }
  }

  /** A command that runs until Ctrl-C, in a terminal of its own: ready once it says so. */
  async inTerminal (line: string, args: string[]): Promise<void> {
    const proc = new Proc([CLI, ...args], this.env(), this.cwd)
    this.background.push({ step: line, proc })
    const ready = args[0] === 'start'
      ? (): boolean => proc.lines.some(l => /^agentmesh \S+ ready$/.test(l))
      : (): boolean => proc.stderr.includes(`subscribed to ${args.at(-1) as string} as 12D3KooW`)
    await waitFor(() => ready() || proc.child.exitCode !== null, `\`${line}\` to say it is ready`, 60_000)
    assert.ok(ready(), `\`${line}\` exited (${proc.child.exitCode}):\n${proc.lines.join('\n')}\n${proc.stderr}`)
    if (args[0] !== 'start') return
    const name = args[args.indexOf('--name') + 1]
    const id = proc.lines.find(l => l.startsWith('  peer id  '))?.slice('  peer id  '.length)
    assert.match(id ?? '', /^12D3KooW\w+$/, proc.lines.join('\n'))
    if (args.includes('--name') && name === 'a1') this.id = id
    // Closed with its credential, or open, as the line asks.
    const mode = args.includes('--open') ? /^ {2}security OPEN: / : /^ {2}security closed: credential [0-9a-f]+$/
    assert.ok(proc.lines.some(l => mode.test(l)), proc.lines.join('\n'))
    if (args.includes('--gateway')) assert.ok(proc.lines.includes(`  gateway  http://${args[args.indexOf('--gateway') + 1]}/v1 (REST; WebSocket at ws://${args[args.indexOf('--gateway') + 1]}/v1/ws)`), proc.lines.join('\n'))
    // A node started into the running mesh prints a line for each agent that joins it: a reader
    // sees them come before using the node (the gateway's first curl, ahead of them, listed gw and a1 only).
    const agents = this.running().filter(b => /--name a[123] /.test(b.step))
    if (args.includes('--bootstrap')) {
      for (const other of agents.map(b => words(b.step)).map(w => w[w.indexOf('--name') + 1]).filter(n => n !== name)) {
        const joined = (): boolean => proc.lines.some(l => l.startsWith(`+ ${other} joined (`))
        await waitFor(() => joined() || proc.child.exitCode !== null, `\`${line}\` to print that ${other} joined`, 60_000)
        assert.ok(joined(), `exited (${proc.child.exitCode}):\n${proc.lines.join('\n')}\n${proc.stderr}`)
      }
    }
    // The quick start's third node completes the set: each of the three prints who coordinates.
    if (agents.length === 3) {
      for (const { step, proc: p } of agents) {
        await waitFor(() => p.lines.some(l => /^coordinator a[123] \(/.test(l)) || p.child.exitCode !== null, `\`${step}\` to print a coordinator line`, 60_000)
        assert.ok(p.lines.some(l => /^coordinator a[123] \(/.test(l)), `exited (${p.child.exitCode}):\n${p.lines.join('\n')}\n${p.stderr}`)
      }
    }
  }

  running (): Array<{ step: string, proc: Proc }> { return this.background.filter(b => b.proc.child.exitCode === null && b.proc.child.signalCode === null) }

  /** Ctrl-C to each running command given: it stops and exits 0. */
  async stop (which: Array<{ step: string, proc: Proc }>): Promise<void> {
    for (const { proc } of which) proc.child.kill('SIGINT')
    for (const { step, proc } of which) assert.equal(await proc.exited(30_000), 0, `\`${step}\` after Ctrl-C:\n${proc.stderr.slice(-2_000)}`)
  }

  /** curl [-XPOST] [-H header] [-d 'body'] url, as fetch: the answer is 2xx JSON, and what the line is for. */
  async curl (line: string): Promise<void> {
    const w = words(line)
    let method = 'GET'
    const headers: Record<string, string> = {}
    let body: string | undefined
    let url: string | undefined
    for (let i = 1; i < w.length; i++) {
      if (w[i] === '-XPOST') method = 'POST'
      else if (w[i] === '-H') { const [k, v] = w[++i].split(/:\s*/); headers[k] = v } else if (w[i] === '-d') body = w[++i]
      else if (!w[i].startsWith('-') && url === undefined) url = `http://${w[i]}`
      else assert.fail(`curl: a flag this test does not know in \`${line}\``)
    }
    assert.ok(url !== undefined, line)
    const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(30_000) })
    const text = await res.text()
    assert.ok(res.status >= 200 && res.status < 300, `${line}: ${res.status} ${text}`)
    const json = JSON.parse(text)
    const path = new URL(url).pathname
    if (path === '/health') {
      assert.equal(json.name, 'a1', text)
      assert.deepEqual(json.peers.map((p: { name: string }) => p.name).sort(), ['a2', 'a3'], text)
    } else if (path === '/v1/agents') {
      for (const a of ['a1', 'a2', 'a3']) assert.ok(JSON.stringify(json).includes(`"name":"${a}"`), `${a} among the gateway's agents: ${text}`)
    } else if (path.endsWith('/commands/echo')) {
      assert.deepEqual(json, JSON.parse(body as string), text)
    } else if (path === '/v1/tasks') {
      assert.equal(res.status, 201, text)
      assert.match(json.task_ids?.[0] ?? '', /^[\w-]+$/, text)
    } else assert.fail(`curl: no check for ${path} (${line})`)
  }
}

function escape (s: string): string { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') }

function clean (): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
}

async function exec (cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(cmd, args, { cwd, env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

/**
 * The prose after the quick start's block, as a reader applies it to the block's lines: the keys
 * are not made, `--identity`, `--credential` and `--psk` give way to `--open` on every start and
 * request (pub and sub come in the CLI section, open already), and each start gets `--no-data-dir`.
 */
function openVariant (readme: string, quickStart: Step[]): Step[] {
  const prose = readme.slice(readme.indexOf('## Quick start: nodes by hand'), readme.indexOf('## CLI')).replace(/\s+/g, ' ')
  assert.ok(prose.includes('A quick local try without keys: leave out `--identity`, `--credential` and `--psk` and give `--open` to every `start`, `request`, `pub` and `sub` instead.'), 'the README\'s open variant, as this test applies it')
  assert.ok(prose.includes('After the closed try, stop its nodes first (Ctrl-C: the open ones take the same ports) and give each open `start` `--no-data-dir` too'), 'the README says how the open variant follows the closed one')
  return quickStart
    .filter(s => !/ (mesh init|id|credential issue) /.test(` ${s.text.replace(CLI_PREFIX, '')}`) && !s.text.startsWith('for '))
    .map(s => {
      const command = words(s.text.replace(CLI_PREFIX, ''))[0]
      if (command !== 'start' && command !== 'request') return { ...s, section: `${s.section} (open)` }
      let text = s.text.replace(/ --identity \S+/, '').replace(/ --credential \S+/, '').replace(/ --psk \S+/, '').replace(/ --mesh (\S+)/, ' --mesh $1 --open')
      if (command === 'start') text += ' --no-data-dir'
      return { section: `${s.section} (open)`, text }
    })
}

test('the README run top to bottom in one directory and one HOME, as a newcomer types it: every step succeeds', { timeout: 10 * 60_000 }, async (t) => {
  const taken = []
  for (const port of PORTS) if (await portInUse(port)) taken.push(port)
  if (taken.length > 0) { t.skip(`port ${taken.join(', ')} in use on 127.0.0.1: the README's steps name ports 7001-7003, 8001 and 8080`); return }
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const all = steps(readme)
  const cwd = await mkdtemp(join(tmpdir(), 'agentmesh-walk-'))
  const home = await mkdtemp(join(tmpdir(), 'agentmesh-walk-home-'))
  const walk = new Walk(t, cwd, home)
  try {
    const quickStart = all.filter(s => s.section === 'Quick start: nodes by hand')
    assert.ok(quickStart.length > 5, 'the quick start has its block')
    for (const s of all) {
      await walk.step(s)
      if (s === quickStart.at(-1)) {
        // Before the open variant: the closed nodes stopped (Ctrl-C), as the README says.
        await walk.stop(walk.running())
        walk.id = undefined
        for (const o of openVariant(readme, quickStart)) await walk.step(o)
      }
    }
    // What a reader who went on from the quick start has in the directory: the Security block
    // made prod's keys beside try's, which it left as they were.
    const owners = await Promise.all(['mesh-owner.json', 'prod-owner.json'].map(async f => JSON.parse(await readFile(join(cwd, f), 'utf8'))))
    assert.deepEqual(owners.map(o => o.mesh), ['try', 'prod'])
    const ran = walk.background.map(b => b.step.split(' ')[0])
    assert.deepEqual([...new Set(ran)].sort(), ['start', 'sub'], 'long-running commands ran')
    await walk.stop(walk.running())
  } finally {
    for (const line of walk.skipped) t.diagnostic(`not run: ${line}`)
    await Promise.all(walk.background.map(async b => { await b.proc.stop('SIGKILL') }))
    await rm(cwd, { recursive: true, force: true })
    await rm(home, { recursive: true, force: true })
  }
})
