/** Helpers shared by the tests: real nodes on 127.0.0.1, conditions waited for with deadlines. */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAgentNode, type AgentNode, type CreateAgentNodeOptions, type Message } from '../surfaces/index.js'
import { after } from 'node:test'
import { CLI, liveProcs, sleep, uniqueMesh, waitFor } from '../harness/process.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { issueCredential, type Credential } from '../protocols/admission/credential.js'

// The process helpers and the seeded generator live in harness/, which bench/ imports too.
export { agentTimings, CLI, listening, Proc, sleep, uniqueMesh, waitFor } from '../harness/process.js'
export { seededRandom } from '../harness/random.js'

// After a test file's tests, the processes a failed test left running (one of two agents started
// together whose partner never got ready) are killed and named: otherwise their pipes keep the
// file alive until the runner's 20-minute file limit, and the report blames the file, not the
// test. Only under node --test (NODE_TEST_CONTEXT), where `after` has a file to belong to.
if (process.env.NODE_TEST_CONTEXT !== undefined) {
  after(async () => {
    const left = [...liveProcs]
    for (const p of left) process.stderr.write(`test/helpers: a test left pid ${String(p.child.pid)} (${p.child.spawnargs.slice(1, 3).join(' ')}) running; killed\n`)
    await Promise.all(left.map(async p => { await p.stop('SIGKILL') }))
  })
}

export const DIST = fileURLToPath(new URL('..', import.meta.url))

/**
 * fetch, whose failure names what failed: undici's "fetch failed" says why (a refused connect, a
 * socket the other side closed, a reset) only in its cause, which node --test does not print.
 * Also given to the MCP SDK's client transport (its `fetch` option) for the same reason.
 */
export async function fetchSaying (input: string | URL | Request, init?: RequestInit): Promise<Response> {
  return await fetch(input, init).catch((err: Error & { cause?: { code?: string, message?: string } }) => {
    const url = input instanceof Request ? input.url : String(input)
    throw new Error(`${init?.method ?? 'GET'} ${url}: ${err.message} (${err.cause?.code ?? ''} ${err.cause?.message ?? ''})`, { cause: err })
  })
}

/** Run `fn` with a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir<T> (fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'agentmesh-test-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * A port nothing listens on, for a process that must be told its port before it starts (the
 * README's commands, a config file). Taken below the kernel's ephemeral range when the host has
 * room there: a port the OS hands out for port 0 can be taken again, before the process binds
 * it, as the local end of any outgoing connection of the tests running beside (CI saw the Quick
 * start's node fail with "address already in use" on 41913, inside 32768-60999). A port below
 * that range is only ever taken by a listener that asks for it by number.
 */
export async function freePort (): Promise<number> {
  const low = await ephemeralLow()
  for (let tries = 0; tries < (low > 20_000 ? 50 : 0); tries++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000))
    if (await bindable(port)) return port
  }
  const server = createServer()
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as { port: number }).port
  await new Promise(resolve => server.close(resolve))
  return port
}

/** The first port of the kernel's ephemeral range (Linux), or 0 where it cannot be read. */
async function ephemeralLow (): Promise<number> {
  try {
    return Number((await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/)[0]) || 0
  } catch {
    return 0
  }
}

async function bindable (port: number): Promise<boolean> {
  const server = createServer()
  return await new Promise<boolean>(resolve => {
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true) }) })
  })
}

export function nodeOptions (mesh: string, extra: CreateAgentNodeOptions = {}): CreateAgentNodeOptions {
  // Quiet unless a test asks: the log lines of many nodes would bury the test report. Open, said
  // here rather than by the local preset, so the tests keep the timings they were written for
  // (lan's, unless they give a preset); a test of a closed mesh gives its own `security`.
  return { mesh, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', security: { mode: 'open' }, ...extra }
}

/**
 * A coordination round by `coordinator`, run again once it is back in office when its lease
 * lapsed before the round began (CRD002): on a loaded host (CI runs three test files at once) a
 * lease can lapse between finding the coordinator and calling it. It must be the same agent: a
 * test chose its other agents' parts around it.
 */
export async function coordinateInOffice (coordinator: AgentNode, options: Parameters<AgentNode['coordination']['coordinate']>[0], timeoutMs = 15_000): Promise<Awaited<ReturnType<AgentNode['coordination']['coordinate']>>> {
  const end = Date.now() + timeoutMs
  for (;;) {
    try {
      return await coordinator.coordination.coordinate(options)
    } catch (err) {
      if ((err as { code?: string }).code !== 'CRD002' || Date.now() >= end) throw err
      await waitFor(() => coordinator.coordinator().inOffice, `${coordinator.name} back in office`, Math.max(1, end - Date.now()))
    }
  }
}

/**
 * A question put straight to the coordinator in office (a raw request, not the task client,
 * which asks again by itself), asked again of whoever holds office while the one asked answers
 * CRD002: on a loaded host a lease can lapse, or a takeover still be reading the voters' records,
 * between finding the office holder and asking it, and CRD002 says nothing was done. Returns the
 * answer and the node that gave it, whose audit or state a test then reads.
 */
export async function askInOffice<T> (
  nodes: AgentNode[], ask: (holder: AgentNode) => Promise<T>, timeoutMs = 20_000
): Promise<{ answer: T, holder: AgentNode }> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const holder = await officeHolder(nodes, 'a coordinator followed by all', Math.max(1, end - Date.now()))
    try {
      return { answer: await ask(holder), holder }
    } catch (err) {
      if ((err as { code?: string }).code !== 'CRD002' || Date.now() >= end) throw err
      await sleep(200)
    }
  }
}

/**
 * Election timeouts a loaded host keeps (issue 45), for tests of several agents in one process
 * that check no new term comes: on the local preset's 300-600 ms, beside two other test files on
 * two cores, a stalled event loop looks like a lost leader. As closedAgent, authority.test and
 * attack-membership have them: the local preset's heartbeats (50 ms) with 2-4 s timeouts.
 */
export const LOADED_HOST_ELECTIONS = { electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 } as const

/**
 * The value `state` returns once it has returned the same one (equal as JSON; undefined never
 * counts) at every look for `forMs` without a break. A check that nothing changes, or that no
 * election message comes, starts from such a state: one taken in the moment after a win or a
 * change of the voter set can still move for reasons the check is not about.
 */
export async function steadyFor<T> (state: () => T | undefined, what: string, forMs: number, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs
  let held: { key: string, since: number, value: T } | undefined
  for (;;) {
    const now = Date.now()
    const value = state()
    const key = value === undefined ? undefined : JSON.stringify(value)
    if (value === undefined || key === undefined) held = undefined
    else if (held?.key !== key) held = { key, since: now, value }
    else if (now - held.since >= forMs) return held.value
    if (now >= end) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}, unchanged for ${forMs} ms (last: ${held === undefined ? 'none' : `${held.key} for ${now - held.since} ms`})`)
    await sleep(50)
  }
}

/**
 * One coordinator in office among `nodes`, every one of them following it in its term, the same
 * for `forMs` (1 s: twenty of the local preset's heartbeats): the election has settled.
 */
export async function settledElection (nodes: AgentNode[], what: string, forMs = 1_000, timeoutMs = 60_000): Promise<{ leader: AgentNode, term: number }> {
  const seen = await steadyFor(() => {
    const office = nodes.filter(n => n.coordination.inOffice)
    if (office.length !== 1) return undefined
    const term = office[0].coordination.term
    return nodes.every(n => n === office[0] || (n.coordination.leader === office[0].peerId && n.coordination.term === term))
      ? { leader: office[0].peerId, term }
      : undefined
  }, what, forMs, timeoutMs)
  return { leader: nodes.find(n => n.peerId === seen.leader) as AgentNode, term: seen.term }
}

/**
 * The one node of `nodes` in office, each of the others following it, as a single look saw them.
 * Not `nodes.find(n => n.coordinator().inOffice)` after a waitFor: office is a lease read against
 * the clock, and on a loaded host it lapsed between the look that found it and that second look
 * (task-pages.test, CI on Node 20: "Cannot read properties of undefined (reading 'stop')").
 */
export async function officeHolder (nodes: AgentNode[], what = 'a coordinator followed by all', timeoutMs = 30_000): Promise<AgentNode> {
  let found: AgentNode | undefined
  await waitFor(() => {
    const office = nodes.filter(n => n.coordinator().inOffice)
    found = office.length === 1 && nodes.every(n => n === office[0] || n.coordinator().leader === office[0].peerId) ? office[0] : undefined
    return found !== undefined
  }, what, timeoutMs)
  return found as AgentNode
}

/**
 * Start n nodes, each bootstrapping from the first, and wait until every one sees n-1 agents. On
 * failure the nodes started are stopped: left running, their timers kept the test file's process
 * alive to the runner's limit (coordination.test, five nodes that did not all meet in 20 s at load 30).
 */
export async function startMesh (n: number, extra: (i: number) => CreateAgentNodeOptions = () => ({})): Promise<AgentNode[]> {
  const mesh = uniqueMesh()
  const nodes: AgentNode[] = []
  try {
    const first = await createAgentNode(nodeOptions(mesh, { name: 'n0', ...extra(0) }))
    await first.start()
    nodes.push(first)
    for (let i = 1; i < n; i++) {
      const node = await createAgentNode(nodeOptions(mesh, { name: `n${i}`, bootstrap: [first.addresses()[0]], ...extra(i) }))
      await node.start()
      nodes.push(node)
    }
    // A minute: nodes in one process beside two other test files on two cores meet slowly.
    await waitFor(() => nodes.every(x => x.peers().length === n - 1), `${n} nodes to see each other`, 60_000).catch((err: Error) => {
      // How far each got, and what its member view says of the others: slow to meet, or meeting and losing each other.
      const states = nodes.map(x => `${x.name}: ${x.peers().length} peers, ${x.members().filter(m => m.state !== 'alive').map(m => `${m.name} ${m.state}`).join(' ') || 'all alive'}`)
      throw new Error(`${err.message} (${states.join('; ')})`)
    })
    return nodes
  } catch (err) {
    await stopAll(nodes).catch(() => {})
    throw err
  }
}

/** Every message the node's subscription to `topic` delivers from now on, in order (the array fills as they come). */
export function collect (node: AgentNode, topic: string): Message[] {
  const got: Message[] = []
  const sub = node.subscribe(topic)
  void (async () => { for await (const m of sub) got.push(m) })()
  return got
}

export async function stopAll (nodes: Array<AgentNode | undefined>): Promise<void> {
  await Promise.all(nodes.map(async n => { await n?.stop() }))
}

/** One CLI command to its end, without the caller's AGENTMESH_ variables: its exit code and output. */
export async function runCli (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
  return await new Promise(resolve => {
    execFile(process.execPath, [CLI, ...args], { env: clean, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

/**
 * A started node of a closed mesh: a key of its own and a credential of `owner` granting `roles`
 * and `capabilities` for an hour (written to `dir`, as `agentmesh credential issue` does), on the
 * local preset's timings with elections a loaded host keeps (2-4 s), bootstrapping from `bootstrap`.
 */
export async function closedAgent (
  dir: string, mesh: string, owner: PrivateKey, name: string,
  grant: { roles: string[], capabilities?: string[] }, extra: CreateAgentNodeOptions & { bootstrapFrom?: AgentNode } = {}
): Promise<{ node: AgentNode, credential: Credential }> {
  const { bootstrapFrom, ...options } = extra
  const privateKey = await generateKeyPair('Ed25519')
  const now = Date.now()
  const subject = peerIdFromPrivateKey(privateKey).toString()
  const fields = { mesh, subject, roles: grant.roles, capabilities: grant.capabilities ?? [], issuedAt: now, expiresAt: now + 3_600_000 }
  const credential = await issueCredential(owner, fields)
  const file = join(dir, `${name}.cred.json`)
  await writeFile(file, JSON.stringify(credential))
  const node = await createAgentNode(nodeOptions(mesh, {
    name,
    privateKey,
    preset: 'local',
    coordination: { bootstrapExpect: 1, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 },
    security: { mode: 'closed', credential: file, admissionTimeoutMs: 1_500 },
    ...(bootstrapFrom !== undefined ? { bootstrap: [bootstrapFrom.addresses()[0]] } : {}),
    ...options
  }))
  await node.start()
  return { node, credential }
}
