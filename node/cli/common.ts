import { Command, Option } from 'commander'
import { createAgentNode, type AgentNode } from '../agent-node.js'
import { loadConfig, type AgentConfig } from '../config.js'
import { AgentMeshError } from '../../protocols/core/errors.js'

/** Flags shared by every command that runs a node; they map onto config keys. */
/** List flags repeat or take commas (`--bootstrap A --bootstrap B` or `--bootstrap A,B`); they are
 * not variadic, which would swallow the positional arguments after them. */
function list (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map(s => s.trim()).filter(s => s.length > 0)]
}

export function nodeOptions (cmd: Command): Command {
  return cmd
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
    .option('--log-level <level>', 'silent | error | warn | info | debug')
    .option('--preset <name>', 'timings of failure detection and elections: local (one host) | lan (default) | wan')
    .option('--json', 'print one JSON object per line')
    .option('--credential <file>', 'credential file from the mesh owner; joins a closed mesh (security.mode closed)')
    .option('--revocations <file>', 'signed revocation list to hold, spread and watch (agentmesh credential revoke --list)')
}

/** Flags as config keys: only those given, so lower layers keep theirs. */
export function flagsToConfig (o: Record<string, any>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...extra }
  const keys = ['preset', 'name', 'mesh', 'listen', 'announce', 'bootstrap', 'identity', 'roles', 'capabilities', 'logLevel', 'debug', 'debugToken']
  for (const k of keys) {
    if (o[k] !== undefined) out[k] = o[k]
  }
  // commander sets mdns=true by default for --no-mdns; only an explicit --no-mdns is a flag.
  if (o.mdns === false) out.mdns = false
  // A credential is given to join a closed mesh: the flag closes this node's side too.
  if (o.credential !== undefined || o.revocations !== undefined) {
    out.security = { ...(o.credential !== undefined ? { mode: 'closed', credential: o.credential } : {}), ...(o.revocations !== undefined ? { revocations: o.revocations } : {}) }
  }
  return out
}

export async function configFrom (o: Record<string, any>, extra: Record<string, unknown> = {}): Promise<AgentConfig> {
  return await loadConfig({ file: o.config, env: process.env, flags: flagsToConfig(o, extra) })
}

/** A short-lived node for one job (pub, sub, request): no listening socket beyond loopback. */
export async function clientNode (o: Record<string, any>): Promise<AgentNode> {
  const config = await configFrom(o, { client: true, listen: o.listen ?? ['/ip4/127.0.0.1/tcp/0'], name: o.name ?? `cli-${process.pid}` })
  if (config.bootstrap.length === 0 && !config.mdns) fail('nothing to join: give --bootstrap <multiaddr> or allow mDNS')
  const node = await createAgentNode({ ...config })
  await node.start()
  return node
}

export function fail (message: string, code = 2): never {
  process.stderr.write(`agentmesh: ${message}\n`)
  process.exit(code)
}

/** One handler for every command's errors: a typed error prints its code, nothing prints a stack. */
export function report (err: unknown): never {
  if (err instanceof AgentMeshError) fail(`${err.code} ${err.name}: ${err.message}`, err.code === 'CFG001' ? 2 : 1)
  fail((err as Error)?.message ?? String(err), 1)
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

export function onSignals (stop: () => Promise<void>): void {
  let stopping = false
  const handler = (): void => {
    if (stopping) process.exit(130)
    stopping = true
    stop().then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
}
