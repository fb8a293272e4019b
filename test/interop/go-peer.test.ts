/**
 * Issue 42: a Go peer (interop/go, on go-libp2p and go-libp2p-pubsub, written from
 * docs/wire-format.md, docs/security.md and interop/vectors only) in a closed mesh of
 * TypeScript agents started with the CLI, every part a real process on 127.0.0.1: it joins with
 * its own identity and a credential from `agentmesh credential issue` (with the mesh key, and in
 * a mesh without one), is refused without a credential, calls a TypeScript agent and answers
 * `agentmesh request`, and events go both ways, each received once. The second test runs the Go
 * module's own tests (`go test ./...`: every vector byte for byte, and a broken peer's frames
 * against a TypeScript node). Skipped where Go is not installed (test/requirements.ts `go`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { skipWithout } from '../requirements.js'
import { CLI, Proc, freePort, runCli, uniqueMesh, waitFor, withTempDir, sleep } from '../helpers.js'
import { WIRE_JSON_SHARED_HEAD } from '../../protocols/envelope/constants.js'

/** interop/go of this checkout (the compiled test runs from dist/test/interop). */
const GO_MODULE = fileURLToPath(new URL('../../../interop/go', import.meta.url))

/** What `go` printed when it could not fetch modules, told apart from a compile error. */
const DOWNLOAD_FAILURE = /dial tcp|no such host|proxy\.golang\.org|connection refused|i\/o timeout|TLS handshake|go: downloading|verifying module|missing go\.sum entry|module lookup disabled|GOPROXY|cannot find module/

/** Runs `go` in interop/go to its end (or its deadline), without the caller's AGENTMESH_ variables unless given. */
async function runGo (args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<{ code: number, out: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
  return await new Promise(resolve => {
    execFile('go', args, { cwd: GO_MODULE, env: { ...clean, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: stdout + stderr })
    })
  })
}

/** Builds the Go peer into `dir`; fails saying so when Go modules could not be downloaded. */
async function buildGoPeer (dir: string): Promise<string> {
  const bin = join(dir, 'agentmesh-go')
  // a cold build (no Go build cache) took 110 s on the 2-core development machine
  const r = await runGo(['build', '-o', bin, './cmd/agentmesh-go'], 420_000)
  if (r.code !== 0) {
    const why = DOWNLOAD_FAILURE.test(r.out)
      ? 'Go modules could not be downloaded (run `cd interop/go && go mod download` where the Go module proxy is reachable)'
      : 'go build failed'
    throw new Error(`${why}:\n${r.out}`)
  }
  return bin
}

/** The Go peer's process: JSON lines on stdout, operations as JSON lines on its stdin. */
class GoPeer {
  readonly child: ChildProcess
  readonly lines: any[] = []
  stderr = ''
  private nextId = 1

  constructor (bin: string, args: string[]) {
    this.child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    createInterface({ input: this.child.stdout! }).on('line', (l) => { try { this.lines.push(JSON.parse(l)) } catch {} })
    this.child.stderr!.on('data', (d) => { this.stderr += String(d) })
  }

  async json (match: (o: any) => boolean, what: string, timeoutMs = 20_000): Promise<any> {
    await waitFor(() => this.lines.some(match) || this.child.exitCode !== null, what, timeoutMs)
    const found = this.lines.find(match)
    if (found === undefined) throw new Error(`the Go peer exited (${String(this.child.exitCode)}) before ${what}; stderr: ${this.stderr}`)
    return found
  }

  /** Sends one operation and waits for its result line. */
  async op (op: Record<string, unknown>, timeoutMs = 30_000): Promise<any> {
    const id = this.nextId++
    this.child.stdin!.write(JSON.stringify({ ...op, id }) + '\n')
    return await this.json(o => o.event === 'result' && o.id === id, `the Go peer's answer to ${JSON.stringify(op)}`, timeoutMs)
  }

  async stop (): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.kill('SIGTERM')
    await new Promise<void>(resolve => {
      const t = setTimeout(() => { this.child.kill('SIGKILL'); resolve() }, 5_000)
      this.child.once('exit', () => { clearTimeout(t); resolve() })
    })
  }
}

/** One run of the Go binary to its end: exit code and output. */
async function runGoPeer (bin: string, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(bin, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

async function ok (r: Promise<{ code: number, stdout: string, stderr: string }>, what: string): Promise<string> {
  const done = await r
  assert.equal(done.code, 0, `${what} exited ${done.code}: ${done.stdout}${done.stderr}`)
  return done.stdout
}

test('a Go peer on go-libp2p joins a closed mesh of TypeScript agents: requests and events both ways, refused without a credential', { timeout: 600_000 }, async (t) => {
  if (skipWithout(t, 'go')) return
  await withTempDir(async (dir) => {
    const bin = await buildGoPeer(dir)
    const mesh = uniqueMesh()
    const f = (name: string): string => join(dir, name)
    await ok(runCli(['mesh', 'init', '--mesh', mesh, '--out', f('owner.json')]), 'mesh init')
    for (const a of ['a1', 'a2']) {
      await ok(runCli(['id', '--identity', f(`${a}.json`)]), 'id')
      await ok(runCli(['credential', 'issue', '--owner', f('owner.json'), '--identity', f(`${a}.json`), '--roles', 'agent,coordinator', '--out', f(`${a}.cred.json`)]), 'credential issue')
    }
    await ok(runCli(['id', '--identity', f('me.json')]), 'id')
    await ok(runCli(['credential', 'issue', '--owner', f('owner.json'), '--identity', f('me.json'), '--roles', 'agent', '--out', f('me.cred.json')]), 'credential issue')
    // The Go peer's identity is its own (the file format `agentmesh id` writes); its credential names its peer id.
    const goId = (await ok(runGoPeer(bin, ['id', '--identity', f('go.json')]), 'agentmesh-go id')).trim()
    assert.match(goId, /^12D3KooW/)
    await ok(runCli(['credential', 'issue', '--owner', f('owner.json'), '--peer', goId, '--roles', 'agent', '--out', f('go.cred.json')]), 'credential issue --peer')

    const closed = (who: string): string[] => ['--mesh', mesh, '--identity', f(`${who}.json`), '--credential', f(`${who}.cred.json`), '--psk', f('mesh.psk')]
    const env = { AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT: '2' }
    const procs: Array<{ stop: () => Promise<void> }> = []
    try {
      const debug = `127.0.0.1:${await freePort()}`
      const a1 = new Proc([CLI, 'start', ...closed('a1'), '--name', 'a1', '--listen', '/ip4/127.0.0.1/tcp/0', '--debug', debug, '--no-mdns', '--no-data-dir', '--json', '--log-level', 'warn'], env)
      procs.push(a1)
      const ready1 = await a1.json(o => o.event === 'ready', 'a1 ready', 30_000)
      const boot = ready1.addresses[0] as string
      const a2 = new Proc([CLI, 'start', ...closed('a2'), '--name', 'a2', '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', boot, '--no-mdns', '--no-data-dir', '--json', '--log-level', 'warn'], env)
      procs.push(a2)
      await a2.json(o => o.event === 'ready', 'a2 ready', 30_000)

      // Joins with its credential and the mesh key; it meets a2 through a1's card answer.
      const go = new GoPeer(bin, ['start', ...closed('go'), '--name', 'gopher', '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', boot, '--sub', 'news'])
      procs.push(go)
      const goReady = await go.json(o => o.event === 'ready', 'the Go peer admitted by a1', 30_000)
      assert.equal(goReady.peerId, goId)
      assert.equal(goReady.security, 'closed')

      // A full member: its signed statement and mesh view make it a row of `agentmesh status`.
      await waitFor(async () => {
        const rows = await runCli(['status', debug, '--json'])
        return rows.code === 0 && (JSON.parse(rows.stdout) as Array<{ name: string, roles: string[] }>).some(r => r.name === 'gopher' && r.roles.includes('agent'))
      }, 'the Go peer listed by agentmesh status', 30_000)

      // Go calls TypeScript agents, by name, and gets their answers.
      const toA1 = await go.op({ op: 'request', to: 'a1', command: 'echo', payload: { from: 'go', n: 1 } })
      assert.deepEqual(toA1.payload, { from: 'go', n: 1 }, JSON.stringify(toA1))
      const toA2 = await go.op({ op: 'request', to: 'a2', command: 'echo', payload: { from: 'go', n: 2 } })
      assert.deepEqual(toA2.payload, { from: 'go', n: 2 }, JSON.stringify(toA2))
      const unknown = await go.op({ op: 'request', to: 'a1', command: 'no-such-command', payload: null })
      assert.equal(unknown.error?.code, 'CMD001', JSON.stringify(unknown))

      // TypeScript calls the Go peer: `agentmesh request` by name through a1, and by peer id dialling it.
      const client = ['--mesh', mesh, '--identity', f('me.json'), '--credential', f('me.cred.json'), '--psk', f('mesh.psk'), '--no-mdns']
      const byName = await ok(runCli(['request', ...client, '--bootstrap', boot, 'gopher', 'echo', '{"from":"ts","via":"name"}']), 'agentmesh request gopher echo')
      assert.deepEqual(JSON.parse(byName), { from: 'ts', via: 'name' })
      const byId = await ok(runCli(['request', ...client, '--bootstrap', goReady.addresses[0], goId, 'echo', '{"from":"ts","via":"id"}']), 'agentmesh request <go id> echo')
      assert.deepEqual(JSON.parse(byId), { from: 'ts', via: 'id' })
      const info = JSON.parse(await ok(runCli(['request', ...client, '--bootstrap', boot, 'gopher', 'info']), 'agentmesh request gopher info'))
      assert.equal(info.implementation, 'agentmesh-go')
      const missing = await runCli(['request', ...client, '--bootstrap', boot, 'gopher', 'no-such-command'])
      assert.equal(missing.code, 1)
      assert.match(missing.stdout + missing.stderr, /CMD001/)

      // TypeScript publishes, the Go subscriber gets each event once. `agentmesh pub` publishes
      // once, at most once, right after joining: on a loaded machine a TypeScript subscriber
      // misses some of those too (measured: 12 such clients at once, 2 of them heard by a TS
      // subscriber and the same 2 by the Go peer), so it publishes again until one arrives.
      const fromTs = (): any[] => go.lines.filter(o => o.event === 'message' && o.source !== goId && typeof o.payload?.tsRun === 'number')
      let runs = 0
      await waitFor(async () => {
        await ok(runCli(['pub', ...client, '--bootstrap', boot, 'news', JSON.stringify({ headline: 'from ts', tsRun: runs++ })]), 'agentmesh pub')
        await sleep(500)
        return fromTs().length > 0
      }, 'an event of agentmesh pub at the Go peer', 60_000)
      await sleep(1_500)
      const tsIds = fromTs().map(o => o.id as string)
      assert.equal(new Set(tsIds).size, tsIds.length, `a TS event reached the Go peer twice: ${tsIds.join(', ')}`)
      assert.ok(fromTs().every(o => o.payload.headline === 'from ts' && o.payload.tsRun < runs))

      // On the fan-out stream: the Go peer says hello and what it hears on its own stream, so a
      // publisher connected to it alone writes batches to it there rather than by gossip.
      assert.equal((await go.op({ op: 'subscribe', topic: 'direct' })).ok, true)
      const direct = (): any[] => go.lines.filter(o => o.event === 'message' && o.topic === 'direct')
      let directRuns = 0
      await waitFor(async () => {
        await ok(runCli(['pub', ...client, '--bootstrap', goReady.addresses[0], 'direct', JSON.stringify({ run: directRuns++ })]), 'agentmesh pub direct')
        await sleep(500)
        return direct().some(o => o.via === 'fanout')
      }, 'an event of agentmesh pub on the fan-out stream to the Go peer', 60_000)
      await sleep(1_000)
      const directIds = direct().map(o => o.id as string)
      assert.equal(new Set(directIds).size, directIds.length, `a direct event arrived twice: ${directIds.join(', ')}`)
      // Its hello accepts batches with a shared head: a TypeScript publisher writes them so, and the Go decoder reads them.
      const fanned = direct().filter(o => o.via === 'fanout')
      assert.ok(fanned.every(o => o.wire === WIRE_JSON_SHARED_HEAD), `fan-out batches to the Go peer by wire byte: ${fanned.map(o => o.wire as number).join(',')}`)

      // The Go peer publishes, a TypeScript subscriber gets each event once.
      const sub = new Proc([CLI, 'sub', ...client, '--bootstrap', boot, 'news', '--json'])
      procs.push(sub)
      await sub.json(o => o.event === 'subscribed', 'the TS subscriber subscribed', 30_000)
      const published: string[] = []
      const gotFromGo = (): any[] => sub.lines.flatMap(l => { try { const o = JSON.parse(l); return o.event === 'message' && o.from === goId ? [o] : [] } catch { return [] } })
      // The subscriber's subscription reaches the Go peer through gossip: publish until the first arrives.
      await waitFor(async () => {
        const r = await go.op({ op: 'publish', topic: 'news', payload: { headline: 'from go', n: published.length } })
        assert.equal(r.ok, true, JSON.stringify(r))
        published.push(r.payload as string)
        await sleep(500)
        return gotFromGo().length > 0
      }, 'an event of the Go peer at the TS subscriber', 30_000)
      const r = await go.op({ op: 'publish', topic: 'news', payload: { headline: 'from go', last: true } })
      published.push(r.payload as string)
      await waitFor(() => gotFromGo().some(o => o.payload?.last === true), 'the Go peer\'s last event at the TS subscriber', 15_000)
      await sleep(1_500)
      const ids = gotFromGo().map(o => o.id as string)
      assert.equal(new Set(ids).size, ids.length, `an event arrived twice: ${ids.join(', ')}`)
      assert.ok(ids.every(id => published.includes(id)), 'every event the TS subscriber got is one the Go peer published')
      assert.deepEqual(gotFromGo().find(o => o.payload?.last === true)?.payload, { headline: 'from go', last: true })

      // Refused without a credential (with the mesh key, so it reaches the card exchange), and
      // with a credential but without the mesh key (no handshake at all).
      const stranger = await runGoPeer(bin, ['request', '--mesh', mesh, '--identity', f('stranger.json'), '--open', '--psk', f('mesh.psk'), '--bootstrap', boot, '--timeout', '10s', 'a1', 'echo', '{}'])
      assert.equal(stranger.code, 1, stranger.stdout + stranger.stderr)
      assert.match(stranger.stderr, /SEC001.*no credential shown/)
      const noKey = await runGoPeer(bin, ['request', '--mesh', mesh, '--identity', f('go2.json'), '--credential', f('go.cred.json'), '--bootstrap', boot, '--timeout', '5s', 'a1', 'echo', '{}'])
      assert.notEqual(noKey.code, 0, noKey.stdout + noKey.stderr)
      // The Go peer's own credential for another peer id is refused before it joins (CFG001, exit 2).
      assert.match(noKey.stderr, /CFG001.*own credential/)
      const withoutPsk = await runGoPeer(bin, ['request', ...closed('go').filter((_, i, a) => a[i] !== '--psk' && a[i - 1] !== '--psk'), '--bootstrap', boot, '--timeout', '5s', 'a1', 'echo', '{}'])
      assert.equal(withoutPsk.code, 1, withoutPsk.stdout + withoutPsk.stderr)
      assert.match(withoutPsk.stderr, /COM002/)

      // Still serving after all that.
      const again = await go.op({ op: 'request', to: 'a2', command: 'echo', payload: 'still here' })
      assert.equal(again.payload, 'still here')
    } finally {
      await Promise.all(procs.map(async p => { await p.stop() }))
    }

    // A closed mesh without a pre-shared key: credentials alone.
    const mesh2 = uniqueMesh()
    await ok(runCli(['mesh', 'init', '--mesh', mesh2, '--out', f('owner2.json'), '--no-psk']), 'mesh init --no-psk')
    await ok(runCli(['credential', 'issue', '--owner', f('owner2.json'), '--identity', f('a1.json'), '--roles', 'agent,coordinator', '--out', f('a1.m2.cred.json')]), 'credential issue')
    await ok(runCli(['credential', 'issue', '--owner', f('owner2.json'), '--peer', goId, '--roles', 'agent', '--out', f('go.m2.cred.json')]), 'credential issue')
    const b1 = new Proc([CLI, 'start', '--mesh', mesh2, '--identity', f('a1.json'), '--credential', f('a1.m2.cred.json'), '--name', 'b1', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-data-dir', '--json', '--log-level', 'warn'], { AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT: '1' })
    try {
      const ready = await b1.json(o => o.event === 'ready', 'b1 ready', 30_000)
      const out = await ok(runGoPeer(bin, ['request', '--mesh', mesh2, '--identity', f('go.json'), '--credential', f('go.m2.cred.json'), '--bootstrap', ready.addresses[0], 'b1', 'echo', '{"psk":false}']), 'agentmesh-go request without a mesh key')
      assert.deepEqual(JSON.parse(out), { psk: false })
    } finally {
      await b1.stop()
    }
  })
})

test('the Go module\'s tests: every interop vector byte for byte, and a broken peer\'s frames against a TypeScript node', { timeout: 600_000 }, async (t) => {
  if (skipWithout(t, 'go')) return
  const r = await runGo(['test', '-count=1', './...'], 540_000, { AGENTMESH_CLI: CLI, AGENTMESH_NODE: process.execPath })
  if (r.code !== 0 && DOWNLOAD_FAILURE.test(r.out)) {
    assert.fail(`Go modules could not be downloaded (run \`cd interop/go && go mod download\` where the Go module proxy is reachable):\n${r.out}`)
  }
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /ok\s+\S+\/wire/)
  assert.match(r.out, /ok\s+\S+\/mesh/)
})
