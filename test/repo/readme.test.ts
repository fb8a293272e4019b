// The README as a newcomer meets it: its opening commands, its config table, and its code, which
// runs here exactly as printed. Every ```ts block is either a complete program, whose first line
// names its file (`// calc.ts: ...`), compiled and run against real nodes on 127.0.0.1, or a
// fragment (`// fragment: ...`), type-checked in the context FRAGMENT_CONTEXT declares.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import ts from 'typescript'
import { z } from 'zod'
import { configKeys, createAgentNode, defineCommand, type AgentNode } from '../../surfaces/index.js'
import { DIST, nodeOptions, Proc, uniqueMesh, waitFor, withTempDir } from '../helpers.js'

const ROOT = join(DIST, '..')

test('README opens with the two commands CI and users rely on, and documents every config key', { timeout: 3 * 60_000 }, async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const ci = await readFile(join(ROOT, '.ci', 'run'), 'utf8')
  const block = /```sh\n([^`]*)```/.exec(readme)?.[1] ?? ''
  const [runLine, testLine] = block.trim().split('\n').map(l => l.replace(/\s+#.*$/, '').trim())
  assert.equal(runLine, 'npm ci && npm run demo')
  assert.equal(testLine, 'npm ci && npm test')
  assert.ok(ci.split('\n').includes(testLine), '.ci/run calls the README\'s test command')
  for (const k of configKeys()) {
    assert.ok(readme.includes(`| ${k.path.join('.')} | ${k.env} |`), `README documents ${k.path.join('.')}`)
  }
})

/**
 * Error classes the README and docs/ name that no caller of the package meets as an object:
 * JavaScript's own and libp2p's, the gateway's (an HTTP answer's code), a handshake's (logged).
 */
const NOT_THROWN_TO_CALLERS = new Set(['RangeError', 'TypeError', 'TooManyInboundProtocolStreamsError', 'UnknownAgentError', 'MeshKeyHandshakeError'])

test('every error class the docs say a caller gets is exported by the package, so that `instanceof` works', { timeout: 60_000 }, async () => {
  const pkg = await import('../../surfaces/index.js') as Record<string, unknown>
  const texts = [await readFile(join(ROOT, 'README.md'), 'utf8')]
  for (const f of await readdir(join(ROOT, 'docs'))) if (f.endsWith('.md')) texts.push(await readFile(join(ROOT, 'docs', f), 'utf8'))
  const named = new Set(texts.flatMap(t => [...t.matchAll(/\b[A-Z][A-Za-z]+Error\b/g)].map(m => m[0])))
  assert.ok(named.has('DeliveryFailedError') && named.has('TopicDeliveryError'), 'the docs name the delivery errors')
  const missing = [...named].filter(n => !NOT_THROWN_TO_CALLERS.has(n) && typeof pkg[n] !== 'function')
  assert.deepEqual(missing, [], 'named in the docs, not exported by the package')
})

/** What a fragment may use without defining it: the names its own first lines say are given. */
const FRAGMENT_CONTEXT = `import type { AgentNode } from 'agentmesh'
declare const node: AgentNode
declare function work (metadata: Record<string, unknown>, step: number, resources: unknown): Promise<void>
declare const candidates: string[]
declare const peer: string
declare function load (data: Uint8Array): void
declare const weights: Uint8Array
`

interface Block { file: string, code: string, line: number, fragment: boolean }

/** The README's ```ts blocks, each named by its first line; one that is neither kind fails here. */
function tsBlocks (readme: string): Block[] {
  const blocks: Block[] = []
  for (const m of readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    const line = readme.slice(0, m.index).split('\n').length
    const code = m[1]
    const first = code.split('\n')[0]
    const file = /^\/\/ ([\w-]+\.ts):/.exec(first)?.[1]
    if (file !== undefined) blocks.push({ file, code, line, fragment: false })
    else if (first.startsWith('// fragment:')) blocks.push({ file: `fragment-line-${line}.ts`, code: FRAGMENT_CONTEXT + code, line, fragment: true })
    else assert.fail(`README line ${line}: a \`\`\`ts block starts with neither "// <file>.ts:" nor "// fragment:": ${first}`)
  }
  return blocks
}

/**
 * Type-check the blocks against the real API and compile the programs. The files sit inside the
 * repository (under dist/) so that `import ... from 'agentmesh'` resolves as in a project that
 * installed it: through the package's self-reference, to dist/surfaces/index.js and its types.
 */
async function compile (dir: string, blocks: Block[]): Promise<void> {
  const tsconfig = JSON.parse(await readFile(join(ROOT, 'tsconfig.json'), 'utf8'))
  const { options, errors } = ts.convertCompilerOptionsFromJson(tsconfig.compilerOptions, ROOT)
  assert.deepEqual(errors, [])
  for (const b of blocks) await writeFile(join(dir, b.file), b.code)
  const program = ts.createProgram(blocks.map(b => join(dir, b.file)), {
    ...options, rootDir: undefined, outDir: undefined, declaration: false, sourceMap: false
  })
  const diagnostics = ts.getPreEmitDiagnostics(program)
  const text = ts.formatDiagnostics(diagnostics, { getCanonicalFileName: f => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' })
  assert.equal(diagnostics.length, 0, `the README's code does not type-check:\n${text}`)
  const emitted = program.emit()
  assert.equal(emitted.emitSkipped, false)
}

/** The lines a process printed once it printed `line` (or failed); never waits past the deadline. */
async function printed (p: Proc, line: string | RegExp, what: string, timeoutMs = 20_000): Promise<void> {
  const seen = (): boolean => p.lines.some(l => typeof line === 'string' ? l === line : line.test(l))
  const output = (): string => `stdout:\n${p.lines.join('\n')}\nstderr:\n${p.stderr}`
  await waitFor(() => seen() || p.child.exitCode !== null, what, timeoutMs).catch((err: Error) => { throw new Error(`${err.message}; ${output()}`, { cause: err }) })
  assert.ok(seen(), `${what}: exited ${p.child.exitCode}; ${output()}`)
}

/** calc.js twice (calc-1, then calc-2 joining through calc-1's address), each with `envOf(name)`: both print the README's lines and stop at Ctrl-C. */
async function calcPair (js: string, envOf: (name: string) => Record<string, string> | Promise<Record<string, string>>): Promise<void> {
  const procs: Proc[] = []
  try {
    const first = new Proc([js], { ...await envOf('calc-1'), AGENTMESH_NAME: 'calc-1' })
    procs.push(first)
    await printed(first, /^calc-1 listening on /, 'calc-1 prints its address')
    const address = first.lines[0].replace('calc-1 listening on ', '')
    assert.match(address, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW\w+$/)
    const second = new Proc([js], { ...await envOf('calc-2'), AGENTMESH_NAME: 'calc-2', AGENTMESH_BOOTSTRAP: address })
    procs.push(second)
    for (const p of procs) await printed(p, 'alert high from myself', 'each calc hears its own alert')
    await printed(procs[0], 'alert high from calc-2', 'calc-1 hears calc-2\'s alert')
    await printed(procs[1], 'alert high from calc-1', 'calc-2 hears calc-1\'s alert')
    for (const p of procs) p.child.kill('SIGINT')
    for (const p of procs) assert.equal(await p.exited(10_000), 0, `Ctrl-C stops it cleanly; stderr:\n${p.stderr}`)
    for (const [self, other] of [['calc-1', 'calc-2'], ['calc-2', 'calc-1']]) {
      const p = procs[self === 'calc-1' ? 0 : 1]
      const out = p.lines.join('\n')
      assert.match(p.lines[0], new RegExp(`^${self} listening on /ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/12D3KooW\\w+$`), out)
      assert.deepEqual(p.lines.slice(1, 3), [`${other} joined (math)`, `${other} says 2 + 3 = 5`], out)
      // Its own alert and the other's, each once, in either order.
      assert.deepEqual(p.lines.slice(3).sort(), ['alert high from myself', `alert high from ${other}`].sort(), out)
      assert.doesNotMatch(p.stderr, /"level":50/, 'no error logged')
      assert.doesNotMatch(p.stderr, /does not grant/, 'its credential grants what it claims')
    }
  } finally {
    for (const p of procs) await p.stop('SIGKILL')
  }
}

/** How each complete program is run, as its comments tell a reader to, and what it must print. */
const RUNS: Record<string, (js: string) => Promise<void>> = {
  // Twice, the second joining through the address the first prints; both stop at Ctrl-C. Open, as
  // calc.ts's first line runs it (a local try), then closed, with the keys made as the README's
  // paragraph says (mesh, identity, credential granting `math`, mesh key).
  'calc.ts': async (js) => {
    const env = { AGENTMESH_MESH: uniqueMesh(), AGENTMESH_MDNS: 'false', AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0', AGENTMESH_LOG_LEVEL: 'warn' }
    await calcPair(js, () => ({ ...env, AGENTMESH_SECURITY_MODE: 'open' }))
    await withTempDir(async (keys) => {
      const cli = async (...args: string[]): Promise<void> => { await run(process.execPath, [join(DIST, 'surfaces', 'cli', 'main.js'), ...args], keys) }
      await cli('mesh', 'init', '--mesh', env.AGENTMESH_MESH)
      const closed = async (name: string, capabilities: string): Promise<Record<string, string>> => {
        await cli('id', '--identity', `${name}.json`)
        await cli('credential', 'issue', '--owner', 'mesh-owner.json', '--identity', `${name}.json`, '--roles', 'agent,coordinator', ...(capabilities !== '' ? ['--capabilities', capabilities] : []), '--out', `${name}.cred.json`)
        return { ...env, AGENTMESH_IDENTITY: join(keys, `${name}.json`), AGENTMESH_SECURITY_CREDENTIAL: join(keys, `${name}.cred.json`), AGENTMESH_SECURITY_PSK: join(keys, 'mesh.psk') }
      }
      await calcPair(js, async (name) => await closed(name, 'math'))
      // A credential without `math`: the node says so at start (the mesh never sees what it only
      // claims), and Ctrl-C ends its wait for a peer at once, with the node's COM002.
      const lone = new Proc([js], { ...await closed('calc-3', ''), AGENTMESH_NAME: 'calc-3' })
      try {
        await waitFor(() => /its credential does not grant.*--capabilities math/.test(lone.stderr) || lone.child.exitCode !== null, 'the warning of a capability not granted')
        assert.match(lone.stderr, /"notGranted":\{"roles":\[\],"capabilities":\["math"\]\}/, lone.stderr)
        await printed(lone, /^calc-3 listening on /, 'calc-3 prints its address')
        lone.child.kill('SIGINT')
        assert.equal(await lone.exited(10_000), 1, `its top-level wait rejects: ${lone.stderr}`)
        assert.match(lone.stderr, /COM002[\s\S]*the node stopped|the node stopped[\s\S]*COM002/, lone.stderr)
      } finally {
        await lone.stop('SIGKILL')
      }
    })
  },
  'presets.ts': async (js) => {
    const p = new Proc([js])
    try {
      assert.equal(await p.exited(15_000), 0, p.stderr)
      assert.deepEqual(p.lines, ['400 2000'])
    } finally {
      await p.stop('SIGKILL')
    }
  }
}

test('README code runs as printed: its programs against real nodes, its fragments type-checked against the API', { timeout: 3 * 60_000 }, async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const blocks = tsBlocks(readme)
  assert.ok(blocks.some(b => b.file === 'calc.ts'), 'the embedding example is a complete program')
  const names = blocks.map(b => b.file)
  assert.equal(new Set(names).size, names.length, `each program has its own file name: ${names.join(', ')}`)
  const unknown = blocks.filter(b => !b.fragment && RUNS[b.file] === undefined).map(b => `${b.file} (line ${b.line})`)
  assert.deepEqual(unknown, [], 'every complete program has a run here')
  const dir = await mkdtemp(join(DIST, 'readme-'))
  try {
    await compile(dir, blocks)
    for (const b of blocks.filter(b => !b.fragment)) await RUNS[b.file](join(dir, b.file.replace(/\.ts$/, '.js')))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

/** A command run to its end within a deadline (then killed), with what it printed. */
async function run (cmd: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<{ stdout: string, stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(cmd, args, { cwd, timeout: timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false' } })
    return { stdout: stdout.trim(), stderr }
  } catch (err) {
    // What the command said, not only that it failed (an npm install failed once in a loaded suite, unexplained).
    const e = err as { message: string, stderr?: string, killed?: boolean }
    throw new Error(`${e.message.split('\n')[0]}${e.killed === true ? ` (killed after ${timeoutMs} ms)` : ''}\n${(e.stderr ?? '').slice(-3_000)}`, { cause: err })
  }
}

test('npm pack carries the LICENSE that package.json names (issue 44: it carried none)', { timeout: 3 * 60_000 }, async () => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))
  const [packed] = JSON.parse((await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT)).stdout)
  const files = (packed.files as Array<{ path: string }>).map(f => f.path)
  assert.ok(files.includes('LICENSE'), `the tarball's files: ${files.filter(f => !f.startsWith('dist/')).join(', ')}`)
  assert.equal((await readFile(join(ROOT, 'LICENSE'), 'utf8')).split('\n')[0], `${pkg.license as string} License`)
})

test('as the README says: packed, installed into a project, imported, its CLI run, and calc.ts run there as calc.js', { timeout: 10 * 60_000 }, async () => {
  await withTempDir(async (tmp) => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))
    // --ignore-scripts: dist/ is already built (the test runs from it); npm pack would rebuild it.
    const tarball = (await run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], ROOT)).stdout.split('\n').at(-1) ?? ''
    assert.equal(tarball, `agentmesh-${pkg.version}.tgz`)
    const project = join(tmp, 'my-agent')
    await mkdir(project)
    // The project as a newcomer makes it (npm 11 writes "type": "commonjs"), then the README's
    // `npm pkg set` lines for it (issue 44: without "type": "module", calc.js fails to import).
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
    const install = readme.slice(readme.indexOf('## Using agentmesh from your own project'), readme.indexOf('## Embedding a node in an agent'))
    const pkgSets = [...install.matchAll(/npm pkg set (\S+)/g)].map(m => m[1])
    assert.ok(pkgSets.includes('type=module'), `the README makes the project an ES module one: ${pkgSets.join(' ')}`)
    await run('npm', ['init', '-y'], project)
    await run('npm', ['pkg', 'set', ...pkgSets], project)
    // The override the README asks for on Node 20 (libp2p's p-retry 8 declares Node >= 22).
    await run('npm', ['pkg', 'set', 'overrides.p-retry=^7.1.1'], project)
    // zod too, as the README tells: calc.ts imports it for its schemas.
    // Three minutes: the whole dependency tree from the cache took more than one at load 10 (2026-11-28).
    const installed = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(tmp, tarball), 'zod'], project, 180_000)
    assert.doesNotMatch(installed.stderr, /EBADENGINE/, installed.stderr)
    const deps = JSON.parse(await readFile(join(project, 'package.json'), 'utf8')).dependencies
    assert.deepEqual(Object.keys(deps).sort(), ['agentmesh', 'zod'])

    assert.equal((await run(join(project, 'node_modules', '.bin', 'agentmesh'), ['--version'], project)).stdout, pkg.version)
    assert.equal((await run('npx', ['--no-install', 'agentmesh', '--version'], project)).stdout, pkg.version)

    // The README's calc.ts, saved as calc.js (it says it runs as it is: `node calc.js`), against an agent that adds.
    const calc = tsBlocks(readme).find(b => b.file === 'calc.ts')
    assert.ok(calc !== undefined)
    await writeFile(join(project, 'calc.js'), calc.code)
    const mesh = uniqueMesh()
    let adder: AgentNode | undefined
    const p = new Proc([join(project, 'calc.js')], { AGENTMESH_MESH: mesh, AGENTMESH_MDNS: 'false', AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0', AGENTMESH_LOG_LEVEL: 'warn', AGENTMESH_SECURITY_MODE: 'open' })
    try {
      adder = await createAgentNode(nodeOptions(mesh, { name: 'adder', capabilities: ['math'], bootstrap: [] }))
      const Add = defineCommand('math.add', { request: z.object({ a: z.number(), b: z.number() }), response: z.object({ sum: z.number() }) })
      adder.handle(Add, ({ a, b }) => ({ sum: a + b }))
      await adder.start()
      const heard = adder.subscribe('alerts')
      await printed(p, / listening on \//, 'calc.js prints its address')
      await adder.dial(p.lines[0].replace(/^.* listening on /, ''))
      await printed(p, 'alert high from myself', 'calc.js asks the adder and hears its own alert')
      assert.deepEqual(p.lines.slice(1, 3), ['adder joined (math)', 'adder says 2 + 3 = 5'], p.lines.join('\n'))
      // eslint-disable-next-line no-unreachable-loop -- calc's one alert is all it waits for
      for await (const m of heard) { assert.deepEqual(m.payload, { level: 'high' }); break }
      p.child.kill('SIGINT')
      assert.equal(await p.exited(10_000), 0, p.stderr)
    } finally {
      await p.stop('SIGKILL')
      await adder?.stop()
    }
  })
})
