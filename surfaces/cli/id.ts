import { join, resolve } from 'node:path'
import { Command } from 'commander'
import { loadOrCreateIdentity, readIdentity } from '../../node/identity.js'
import { dataDirOwner } from '../../node/data-dir.js'
import { report } from './common.js'

export function idCommand (): Command {
  return new Command('id')
    .description('create an identity file, or show the peer id of an existing one')
    .option('--identity <file>', 'identity file', 'agentmesh-identity.json')
    .option('--data-dir <dir>', 'the identity of a node\'s data directory instead of --identity: the one it belongs to (its node may be running: ' +
      'nothing is written), or, for a directory no node used yet, <dir>/identity.key (created if missing), as `start --data-dir <dir>` uses it')
    .option('--json', 'print one JSON object')
    .action(async (o) => {
      try {
        const print = (line: Record<string, unknown>, how: string): void => {
          process.stdout.write(o.json === true ? JSON.stringify({ event: 'identity', ...line }) + '\n' : `${String(line.peerId)}\n${how}\n`)
        }
        // A directory a node has used belongs to that node's identity, wherever its key is (--identity,
        // AGENTMESH_IDENTITY): shown, never a second one written beside it (a start would refuse that one).
        const owner = o.dataDir !== undefined ? await dataDirOwner(o.dataDir) : undefined
        if (owner !== undefined) {
          const key = join(o.dataDir, 'identity.key')
          const stray = owner.identityFile !== resolve(key) ? await readIdentity(key).catch(() => undefined) : undefined
          if (stray !== undefined && stray.peerId.toString() !== owner.peerId) {
            process.stderr.write(`agentmesh: ${key} holds another identity (${stray.peerId.toString()}), not the one ${o.dataDir} belongs to: ` +
              'a start on it with that key would be refused (STO001)\n')
          }
          const file = owner.identityFile ?? null
          print({ peerId: owner.peerId, file, created: false, dataDir: o.dataDir }, `the identity ${o.dataDir} belongs to${file !== null ? ` (its key: ${file})` : ''}`)
          return
        }
        const file: string = o.dataDir !== undefined ? join(o.dataDir, 'identity.key') : o.identity
        const id = await loadOrCreateIdentity(file)
        print({ peerId: id.peerId.toString(), file, created: id.created }, `${id.created ? 'created' : 'read'} ${file}`)
      } catch (err) {
        report(err)
      }
    })
}
