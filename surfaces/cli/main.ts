#!/usr/bin/env node
// The agentmesh command: a thin layer over the library. Kept apart from node/index.ts so that
// importing the library never runs a CLI.
import '../../node/polyfills.js'
import { Command, type CommanderError } from 'commander'
import { AGENTMESH_VERSION } from '../../protocols/core/version.js'
import { startCommand } from './start.js'
import { pubCommand } from './pub.js'
import { subCommand } from './sub.js'
import { requestCommand } from './request.js'
import { idCommand } from './id.js'
import { statusCommand } from './status.js'
import { meshCommand } from './mesh.js'
import { credentialCommand } from './credential.js'
import { revocationCommand } from './revocation.js'
import { keyringCommand } from './keyring.js'
import { deadLettersCommand } from './dead-letters.js'
import { mcpCommand } from './mcp.js'
import { EXIT_USAGE } from './common.js'

const EXIT_CODES = `
Exit codes:
  0  done (or stopped by SIGINT/SIGTERM)
  1  failed at run time: a request failed, no such agent, the mesh or debug endpoint unreachable
  2  usage or configuration: unknown flag, missing argument, bad config value (CFG001), port in use`

// Commander exits 1 on an unknown flag or a missing argument; a usage error exits 2 here, as
// the configuration errors do, so a script can tell "fix the command" from "it failed".
const usageExit = (err: CommanderError): never => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE)

const program = new Command('agentmesh')
  .description('a peer-to-peer mesh for software agents')
  .version(AGENTMESH_VERSION)
  .addCommand(startCommand())
  .addCommand(pubCommand())
  .addCommand(subCommand())
  .addCommand(requestCommand())
  .addCommand(idCommand())
  .addCommand(statusCommand())
  .addCommand(meshCommand())
  .addCommand(credentialCommand())
  .addCommand(revocationCommand())
  .addCommand(keyringCommand())
  .addCommand(deadLettersCommand())
  .addCommand(mcpCommand())
  .addHelpText('after', EXIT_CODES)
  .showHelpAfterError()
  .exitOverride(usageExit)
// addCommand does not pass these settings down: each command (and `credential issue`, ...) gets them itself.
const settle = (cmd: Command, path: string): void => {
  cmd.exitOverride(usageExit).showHelpAfterError(`(agentmesh ${path} --help shows its usage)`).addHelpText('after', EXIT_CODES)
  for (const sub of cmd.commands) settle(sub, `${path} ${sub.name()}`)
}
for (const cmd of program.commands) settle(cmd, cmd.name())

await program.parseAsync(process.argv)
