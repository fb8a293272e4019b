import { join } from 'node:path'
import { Command } from 'commander'
import { loadOrCreateIdentity } from '../../node/identity.js'
import { report } from './common.js'

export function idCommand (): Command {
  return new Command('id')
    .description('create an identity file, or show the peer id of an existing one')
    .option('--identity <file>', 'identity file', 'agentmesh-identity.json')
    .option('--data-dir <dir>', 'the identity of a node\'s data directory (<dir>/identity.key, as `start --data-dir <dir>` uses it), instead of --identity')
    .option('--json', 'print one JSON object')
    .action(async (o) => {
      try {
        const file: string = o.dataDir !== undefined ? join(o.dataDir, 'identity.key') : o.identity
        const id = await loadOrCreateIdentity(file)
        const line = { event: 'identity', peerId: id.peerId.toString(), file, created: id.created }
        process.stdout.write(o.json === true ? JSON.stringify(line) + '\n' : `${line.peerId}\n${id.created ? 'created' : 'read'} ${file}\n`)
      } catch (err) {
        report(err)
      }
    })
}
