import { Command } from 'commander'
import { loadOrCreateIdentity } from '../identity.js'
import { report } from './common.js'

export function idCommand (): Command {
  return new Command('id')
    .description('create an identity file, or show the peer id of an existing one')
    .option('--identity <file>', 'identity file', 'agentmesh-identity.json')
    .option('--json', 'print one JSON object')
    .action(async (o) => {
      try {
        const id = await loadOrCreateIdentity(o.identity)
        const line = { event: 'identity', peerId: id.peerId.toString(), file: o.identity, created: id.created }
        process.stdout.write(o.json === true ? JSON.stringify(line) + '\n' : `${line.peerId}\n${id.created ? 'created' : 'read'} ${o.identity}\n`)
      } catch (err) {
        report(err)
      }
    })
}
