import { Command, Option } from 'commander'
import type { AgentNode } from '../../node/agent-node.js'
import { loadConfig, type AgentConfig } from '../../node/config.js'
import { AbortError, AgentMeshError, DataDirTakenError } from '../../protocols/core/errors.js'
import { editDistance } from '../../protocols/core/edit-distance.js'
import { watchBootstrap } from './join.js'
import { watchAbsent } from '../../node/absent-agent.js'
import { takeSignals } from './signals.js'
import { besideRunningNode } from './beside-node.js'

/** Exit codes, one convention for every command (README's CLI section says the same). */
export const EXIT_RUNTIME = 1
export const EXIT_USAGE = 2

/** List flags repeat or take commas (`--bootstrap A --bootstrap B` or `--bootstrap A,B`); they are
 * not variadic, which would swallow the positional arguments after them. */
export function list (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map(s => s.trim()).filter(s => s.length > 0)]
}

/**
 * Flags shared by every command that runs a node; they map onto config keys. A `client` command
 * (request, pub, sub) logs at warn unless told otherwise, like the nats CLI that prints the answer
 * and nothing else, and takes -v for info.
 */
export function nodeOptions (cmd: Command, kind: 'agent' | 'client' = 'agent'): Command {
  cmd
    .option('-c, --config <file>', 'JSON config file (flags override AGENTMESH_* variables, which override the file)')
    .option('--name <name>', 'agent name shown to peers')
    .option('--mesh <mesh>', 'mesh name; agents only see their own mesh')
    .option('--listen <multiaddr>', 'addresses to listen on, e.g. /ip4/0.0.0.0/tcp/7001 /ip4/0.0.0.0/tcp/7002/ws (repeat or comma-separate)', list)
    .option('--announce <multiaddr>', 'addresses to announce instead of the listening ones (repeat or comma-separate)', list)
    .option('--bootstrap <multiaddr>', 'peers to join through (/ip4/.../tcp/.../p2p/<id>) (repeat or comma-separate)', list)
    .option('--identity <file>', 'identity file (created, mode 0600, if missing)')
    .option('--roles <roles>', 'roles announced in the agent card (repeat or comma-separate)', list)
    .option('--capabilities <caps>', 'capabilities announced in the agent card (repeat or comma-separate)', list)
    .addOption(new Option('--no-mdns', 'do not discover peers by multicast DNS'))
    .option('--log-level <level>', `silent | error | warn | info | debug; logs go to stderr (default ${kind === 'client' ? 'warn' : 'info, or warn on a terminal (one line per event on stdout)'}, or AGENTMESH_LOG_LEVEL, or the file's logLevel)`)
    .option('--log-format <format>', 'pretty | json (one object a line); default pretty on a terminal, else json')
    .option('-v, --verbose', kind === 'client' ? 'log at info level (--log-level info)' : 'log at info level (--log-level info): the structured logs, on a terminal too')
  return cmd
    .option('--preset <name>', 'timings of failure detection and elections: local (one host) | lan (default) | wan')
    .option('--json', 'print one JSON object per line')
    .option('--credential <file>', 'credential file from the mesh owner (agentmesh credential issue): a node is closed by default and needs one, with --identity')
    .option('--psk <file>', 'the mesh\'s pre-shared key (agentmesh mesh init writes mesh.psk): no handshake with a host without it')
    .option('--open', 'open mode, for local development: no credential; any peer that knows the mesh name is admitted (security.mode open)')
    .option('--revocations <file>', 'signed revocation list to hold, spread and watch (agentmesh credential revoke --list)')
}

/** Flags as config keys: only those given, so lower layers keep theirs. */
export function flagsToConfig (o: Record<string, any>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...extra }
  const keys = ['preset', 'name', 'mesh', 'listen', 'announce', 'bootstrap', 'identity', 'roles', 'capabilities', 'logLevel', 'logFormat', 'debug', 'debugToken']
  for (const k of keys) {
    if (o[k] !== undefined) out[k] = o[k]
  }
  // commander sets mdns=true by default for --no-mdns; only an explicit --no-mdns is a flag.
  if (o.mdns === false) out.mdns = false
  // Open admits anyone, a credential is shown only in a closed mesh: asking for both is a mistake to say, not to guess.
  if (o.open === true && o.credential !== undefined) fail('--open and --credential contradict each other: an open node shows no credential (drop one)')
  // A credential is given to join a closed mesh: the flag closes this node's side too.
  const security: Record<string, unknown> = {
    ...(o.open === true ? { mode: 'open' } : {}),
    ...(o.credential !== undefined ? { mode: 'closed', credential: o.credential } : {}),
    ...(o.psk !== undefined ? { psk: o.psk } : {}),
    ...(o.revocations !== undefined ? { revocations: o.revocations } : {})
  }
  if (Object.keys(security).length > 0) out.security = security
  return out
}

/** `defaults` sit under the file, the variables and the flags: a command's own defaults. */
export async function configFrom (o: Record<string, any>, extra: Record<string, unknown> = {}, defaults: Record<string, unknown> = {}): Promise<AgentConfig> {
  return await loadConfig({ defaults, file: o.config, env: process.env, flags: flagsToConfig(o, extra) })
}

export interface Client {
  node: AgentNode
  /** Aborted, with a ConnectionError saying why, once every bootstrap peer failed and no agent is connected. */
  unreachable: AbortSignal
  /** The bootstrap addresses that failed so far, each with its last error (join.ts). */
  bootstrapFailures: () => string[]
}

/**
 * A short-lived node for one job (pub, sub, request): a client of the mesh (it never votes and
 * is not listed as an agent), listening on loopback only, under its own name, whatever the file says.
 * With `shutdown` (sub: it runs until stopped), a signal stops the node, however far its start went.
 */
export async function clientNode (o: Record<string, any>, shutdown?: Shutdown): Promise<Client> {
  // Log level: --log-level, then -v, then AGENTMESH_LOG_LEVEL or the file, then warn (a default
  // under them all: the answer is what a client prints).
  const given = await configFrom(o, {
    client: true,
    listen: o.listen ?? ['/ip4/127.0.0.1/tcp/0'],
    name: o.name ?? `cli-${process.pid}`,
    ...(o.verbose === true && o.logLevel === undefined ? { logLevel: 'info' } : {})
  }, { logLevel: 'warn' })
  // `docker exec <container> agentmesh request ...`: the node's data directory and identity are the node's (beside-node.ts).
  const { config, note } = await besideRunningNode(given)
  if (config.bootstrap.length === 0 && !config.mdns) fail('nothing to join: give --bootstrap <multiaddr> or allow mDNS')
  // Loaded here, not at the top: the commands that never join (id, credential, mesh) skip libp2p's load.
  const { createTracedNode } = await import('./traced-node.js')
  const node = await createTracedNode({ ...config })
  if (note !== undefined) node.log.info(note)
  // Watching before start(): the first dial starts with it.
  const watch = watchBootstrap(node, config.bootstrap)
  shutdown?.stopWith(async () => { await node.stop() })
  await node.start({ ...(shutdown !== undefined ? { signal: shutdown.signal } : {}) })
  return { node, unreachable: watch.signal, bootstrapFailures: watch.failures }
}

/**
 * A signal that fires at the deadline, or earlier when the mesh is found unreachable. Not
 * AbortSignal.any over AbortSignal.timeout: on Node 20 the timeout signal, held only weakly by
 * both, can be collected before it fires, and the wait never ends (nodejs/node#57736). The timer
 * here holds its controller; it is unref'd so that it keeps no finished command alive.
 */
export function within (client: Client, ms: number): AbortSignal {
  const controller = new AbortController()
  const onUnreachable = (): void => { clearTimeout(timer); controller.abort(client.unreachable.reason) }
  const timer = setTimeout(() => {
    client.unreachable.removeEventListener('abort', onUnreachable)
    controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError'))
  }, ms)
  timer.unref()
  if (client.unreachable.aborted) onUnreachable()
  else client.unreachable.addEventListener('abort', onUnreachable, { once: true })
  return controller.signal
}

/**
 * Waits for the agent named `name`, up to `ms`: resolves to it, or to undefined at the deadline,
 * or earlier once the member view is complete and names no such agent (node/absent-agent.ts).
 */
export async function agentNamed (client: Client, name: string, ms: number): Promise<{ peerId: string, name: string } | undefined> {
  const { node } = client
  const signal = within(client, ms)
  const absent = watchAbsent(node, m => m.name === name)
  try {
    await node.waitForAgent({ name }, { signal: AbortSignal.any([signal, absent.signal]) }).catch(unlessUnreachable(client))
  } finally {
    absent.stop()
  }
  return node.findAgents({ name })[0]
}

/** Names among `seen` an edit or two from `name` (a typo), for "did you mean". */
export function closeNames (name: string, seen: string[]): string[] {
  // Short names are all a couple of edits apart: one edit for them.
  const most = name.length < 5 ? 1 : 2
  return seen.filter(s => editDistance(name.toLowerCase(), s.toLowerCase()) <= most)
}

/** How long `agentToAsk` looks for the agent. */
const FIND_AGENT_MS = 10_000

/**
 * The agent a one-shot command asks (`revocation publish`, `keyring`): `to` by peer id (its card
 * brings its name; asked anyway when late, the request then says what is wrong) or by name, or
 * the first agent met. Throws when none is met.
 */
export async function agentToAsk (client: Client, to: string | undefined, what: string): Promise<{ peerId: string, name: string }> {
  const { node } = client
  let agent: { peerId: string, name: string } | undefined
  if (to !== undefined && /^(12D3Koo|Qm)[1-9A-HJ-NP-Za-km-z]+$/.test(to)) {
    await node.joined({ peer: to, signal: within(client, FIND_AGENT_MS) }).catch(unlessUnreachable(client))
    agent = node.peers().find(p => p.peerId === to) ?? { peerId: to, name: to }
  } else {
    const query = to === undefined ? {} : { name: to }
    await node.waitForAgent(query, { signal: within(client, FIND_AGENT_MS) }).catch(unlessUnreachable(client))
    agent = node.findAgents(query)[0]
  }
  if (agent === undefined) throw new Error(to === undefined ? `no agent met to ${what}` : `no agent named "${to}" met`)
  return agent
}

/** For a wait that may run out (the caller goes on), but must not hide an unreachable mesh. */
export function unlessUnreachable (client: Client): (err: unknown) => void {
  return () => { if (client.unreachable.aborted) throw client.unreachable.reason }
}

export function fail (message: string, code = EXIT_USAGE): never {
  process.stderr.write(`agentmesh: ${message}\n`)
  process.exit(code)
}

/**
 * One handler for every command's errors: a typed error prints its code, nothing prints a stack.
 * A configuration error (CFG001: a bad value, a port already in use) is the user's to fix before
 * running again, so it exits as a usage error; so does a data directory another node holds or
 * owns (STO001, DataDirTakenError), as a port another process holds does.
 */
export function report (err: unknown): never {
  const usage = err instanceof DataDirTakenError || (err instanceof AgentMeshError && err.code === 'CFG001')
  if (err instanceof AgentMeshError) fail(`${err.code} ${err.name}: ${err.message}`, usage ? EXIT_USAGE : EXIT_RUNTIME)
  fail((err as Error)?.message ?? String(err), EXIT_RUNTIME)
}

/**
 * A URL a person can open, for one a server bound to every interface reports: http://0.0.0.0:8001
 * is where it listens, not an address to browse to, so it is given on loopback, with `bound` (0.0.0.0 or [::]) to say so.
 */
export function reachableUrl (url: string): { url: string, bound?: string } {
  const m = /^(\w+:\/\/)(0\.0\.0\.0|\[::\])(:\d+.*)?$/.exec(url)
  if (m === null) return { url }
  return { url: `${m[1]}${m[2] === '0.0.0.0' ? '127.0.0.1' : '[::1]'}${m[3] ?? ''}`, bound: m[2] }
}

export function parseJsonArg (text: string | undefined, what: string): unknown {
  if (text === undefined) return null
  try {
    return JSON.parse(text)
  } catch {
    // A bare word is taken as a string, so `pub events hello` works without quoting JSON.
    if (/^[^{["\d-]/.test(text) && !['true', 'false', 'null'].includes(text)) return text
    fail(`${what} is not valid JSON: ${text}`)
  }
}

export async function waitFor (check: () => boolean, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (check()) return true
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  return check()
}

/**
 * Calls `gone` once when stdout's reader goes away (EPIPE: `agentmesh start | head -3`, a log
 * collector that died). Without a listener, the write that finds the pipe closed is an uncaught
 * 'error' that ends the process on the spot, with a stack trace and without the node's stop (no
 * leave announced, the store not closed). Returns whether stdout is gone, for the writers to
 * check: a write after EPIPE is dropped by the stream, but says nothing.
 */
export function onStdoutGone (gone: () => void): () => boolean {
  let closed = false
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // After EPIPE the stream is destroyed: what a later write reports is the same pipe gone.
    if (closed) return
    if (err.code !== 'EPIPE') throw err
    closed = true
    gone()
  })
  return () => closed
}

/**
 * How long a stop asked by a signal (or by npm going away) may take before the process exits
 * anyway: a stop that waits on a peer or a disk that does not answer must not leave the node
 * holding its ports (a container runtime's own grace is 10 s, then SIGKILL).
 */
export const STOP_GRACE_MS = 15_000

/** What a command that runs until stopped (start, sub, mcp) does on SIGINT or SIGTERM: `onSignals`. */
export interface Shutdown {
  /** Aborted by the first signal (or `stop`): a start in progress gives up (AgentNode.start's `signal`). */
  readonly signal: AbortSignal
  /**
   * What a signal runs from now on, then exits 0 (1 when it fails). A signal that came already
   * runs it now: given as soon as the node exists, before its start, it stops the node however
   * far its start went (the node's stop() waits for the start to give up).
   */
  stopWith: (stop: () => Promise<void>) => void
  /** Stop as a signal does: npm gone (parent-watch.ts), stdout's reader gone. */
  stop: () => void
  /**
   * The command's catch: after a signal, a failure is the start giving up (or moot: the stop was
   * asked), and the stop decides the exit; before one, it is reported (`report`).
   */
  failed: (err: unknown) => void
}

/**
 * SIGINT and SIGTERM, taken over from main.ts (signals.ts) as the command begins, before it
 * reads its config: a signal while the node starts stops it as one after the start does, and
 * leaves no port bound (before, a signal in the first 0.65 s of `start` ended it with 130/143, and
 * `docker stop` of a node that was PID 1 waited 10 s). A second signal exits at once; a stop
 * that has not finished `graceMs` after the first exits 1.
 */
export function onSignals (graceMs = STOP_GRACE_MS): Shutdown {
  const controller = new AbortController()
  let stopNode: (() => Promise<void>) | undefined
  let running = false
  const run = (): void => {
    if (running || stopNode === undefined) return
    running = true
    stopNode().then(() => process.exit(0), () => process.exit(EXIT_RUNTIME))
  }
  const stop = (why: string): void => {
    if (controller.signal.aborted) return
    controller.abort(new AbortError(`${why}: stopping`))
    setTimeout(() => {
      process.stderr.write(`agentmesh: the stop did not finish in ${graceMs} ms: exiting without it\n`)
      process.exit(EXIT_RUNTIME)
    }, graceMs)
    // Before there is a node to stop, the start is on its way to one (or to failing): said, since it may take a moment.
    if (stopNode === undefined) process.stderr.write(`agentmesh: ${why} while starting: stopping before the node serves\n`)
    run()
  }
  takeSignals((signal) => {
    if (controller.signal.aborted) process.exit(130)
    stop(signal)
  })
  return {
    signal: controller.signal,
    stopWith: (f) => { stopNode = f; if (controller.signal.aborted) run() },
    stop: () => { stop('asked to stop') },
    failed: (err) => {
      if (!controller.signal.aborted) report(err)
      stopNode ??= async () => {}
      run()
    }
  }
}
