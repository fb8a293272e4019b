// The agentmesh command: a thin layer over the library. Kept apart from node/index.ts so that
// importing the library never runs a CLI. main.ts runs it, bundled or as modules.
import '../../node/polyfills.js'
import { Command, type CommanderError } from 'commander'
import { AGENTMESH_VERSION } from '../../protocols/core/version.js'
import { EXIT_USAGE } from './common.js'
import { SERVING } from './signals.js'

const EXIT_CODES = `
Exit codes:
  0  done (or stopped by SIGINT/SIGTERM)
  1  failed at run time: a request failed, no such agent, the mesh or debug endpoint unreachable
  2  usage or configuration: unknown flag, missing argument, bad config value (CFG001), port in use,
     data directory another node holds or owns (STO001)`

// Commander exits 1 on an unknown flag or a missing argument; a usage error exits 2 here, as
// the configuration errors do, so a script can tell "fix the command" from "it failed".
const usageExit = (err: CommanderError): never => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE)

/**
 * Each command's module, loaded when it is asked for: `start` and the commands that join a mesh
 * load libp2p and every protocol (about 1.5 s of CPU on a 2-core machine), while `id`,
 * `credential`, `mesh` and `status` need a fraction of that, and scripts call them in loops.
 * Help, the version and an unknown command load them all, in this order.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./start.js')).startCommand(),
  pub: async () => (await import('./pub.js')).pubCommand(),
  sub: async () => (await import('./sub.js')).subCommand(),
  request: async () => (await import('./request.js')).requestCommand(),
  id: async () => (await import('./id.js')).idCommand(),
  status: async () => (await import('./status.js')).statusCommand(),
  mesh: async () => (await import('./mesh.js')).meshCommand(),
  credential: async () => (await import('./credential.js')).credentialCommand(),
  revocation: async () => (await import('./revocation.js')).revocationCommand(),
  keyring: async () => (await import('./keyring.js')).keyringCommand(),
  'dead-letters': async () => (await import('./dead-letters.js')).deadLettersCommand(),
  mcp: async () => (await import('./mcp.js')).mcpCommand()
}
const asked = process.argv[2]
const wanted = asked !== undefined && Object.hasOwn(COMMANDS, asked) ? [asked] : Object.keys(COMMANDS)

const program = new Command('agentmesh')
  .description('a peer-to-peer mesh for software agents')
  .version(AGENTMESH_VERSION)
for (const name of wanted) program.addCommand(await COMMANDS[name]())
program
  .addHelpText('after', EXIT_CODES)
  .showHelpAfterError()
  .exitOverride(usageExit)
// addCommand does not pass these settings down: each command (and `credential issue`, ...) gets them itself.
const settle = (cmd: Command, path: string): void => {
  cmd.exitOverride(usageExit).showHelpAfterError(`(agentmesh ${path} --help shows its usage)`).addHelpText('after', EXIT_CODES)
  for (const sub of cmd.commands) settle(sub, `${path} ${sub.name()}`)
}
for (const cmd of program.commands) settle(cmd, cmd.name())

// SERVING (signals.ts): commands whose action returns while the process goes on serving (`start`,
// `mcp --http`) or that end with a subscription (`sub`): they end by a signal, which exits once
// the node stopped (common.ts onSignals).
await program.parseAsync(process.argv)
// Any other command has done its work once its action resolved: its node stopped, its answer
// written (stdout and stderr drained below; pino flushes its asynchronous destination on exit).
// It ends now rather than when Node's loop drains: libp2p 3.3.11's address manager arms a refed
// 1 s debounce as a node's listeners close on stop (docs/upstream.md, 4), which kept every
// `request`, `pub` and `keyring` alive a second after it had answered.
if (!SERVING.has(asked ?? '')) {
  // Each callback comes once what was written before it is out (pipes are asynchronous on macOS).
  await Promise.all([process.stdout, process.stderr].map(async s => { await new Promise<void>(resolve => { s.write('', () => { resolve() }) }) }))
  process.exit()
}
