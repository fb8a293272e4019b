// `agentmesh mesh init`: the mesh owner's key, which signs every credential and revocation list
// of the mesh. It stays with the operator (offline); agents never hold it, only its id.
import { Command } from 'commander'
import { readFile, writeFile } from 'node:fs/promises'
import { privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { z } from 'zod'
import { MeshName, newOwnerKey } from '../../protocols/admission/credential.js'
import { ConfigError } from '../../protocols/core/errors.js'
import { fail, report } from './common.js'

const OwnerFile = z.strictObject({
  type: z.literal('agentmesh-mesh-owner'),
  mesh: MeshName,
  issuer: z.string(),
  privateKey: z.string().min(1)
})

export interface Owner { mesh: string, issuer: string, key: PrivateKey }

/** The owner key file, checked (a file whose key is not its issuer's is refused). */
export async function readOwner (path: string): Promise<Owner> {
  let parsed: z.infer<typeof OwnerFile>
  try {
    parsed = OwnerFile.parse(JSON.parse(await readFile(path, 'utf8')))
  } catch (err) {
    throw new ConfigError(`${path} is not a mesh owner key file (agentmesh mesh init makes one): ${(err as Error).message}`, { cause: err })
  }
  const key = privateKeyFromProtobuf(Buffer.from(parsed.privateKey, 'base64'))
  const issuer = peerIdFromPrivateKey(key).toString()
  if (issuer !== parsed.issuer) throw new ConfigError(`${path}: its key is not the issuer ${parsed.issuer} it names`)
  return { mesh: parsed.mesh, issuer, key }
}

export function meshCommand (): Command {
  return new Command('mesh')
    .description('the mesh owner\'s key (closed meshes, docs/security.md)')
    .addCommand(new Command('init')
      .description('create the mesh owner key file (mode 0600; keep it offline) and print its issuer id')
      .requiredOption('--mesh <name>', 'mesh name the credentials will be for')
      .option('--out <file>', 'owner key file to create (never overwritten)', 'mesh-owner.json')
      .option('--json', 'print one JSON object')
      .action(async (o) => {
        try {
          const mesh = MeshName.safeParse(o.mesh)
          if (!mesh.success) fail(`--mesh: ${mesh.error.issues[0].message}`)
          const key = await newOwnerKey()
          const issuer = peerIdFromPrivateKey(key).toString()
          const body = { type: 'agentmesh-mesh-owner', mesh: mesh.data, issuer, privateKey: Buffer.from(privateKeyToProtobuf(key)).toString('base64') }
          try {
            // 'wx': an owner key replaced by mistake orphans every credential it signed.
            await writeFile(o.out, JSON.stringify(body, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'EEXIST') fail(`${o.out} exists: an owner key is never overwritten (give another --out)`)
            throw err
          }
          const line = { event: 'mesh-owner', mesh: mesh.data, issuer, file: o.out }
          process.stdout.write(o.json === true ? JSON.stringify(line) + '\n' : `${issuer}\ncreated ${o.out} (mesh ${mesh.data}); keep it offline\n`)
        } catch (err) {
          report(err)
        }
      }))
}
