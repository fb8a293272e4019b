#!/usr/bin/env node
// The agentmesh command: a thin layer over the library. Kept apart from node/index.ts so that
// importing the library never runs a CLI.
import '../polyfills.js'
import { Command } from 'commander'
import { AGENTMESH_VERSION } from '../../protocols/core/version.js'
import { startCommand } from './start.js'
import { pubCommand } from './pub.js'
import { subCommand } from './sub.js'
import { requestCommand } from './request.js'
import { idCommand } from './id.js'
import { statusCommand } from './status.js'
import { meshCommand } from './mesh.js'
import { credentialCommand } from './credential.js'

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
  .showHelpAfterError()

await program.parseAsync(process.argv)
