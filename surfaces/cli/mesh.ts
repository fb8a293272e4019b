// `agentmesh mesh init`: the mesh owner's key, which signs every credential and revocation list
// of the mesh. It stays with the operator (offline); agents never hold it, only its id. Beside it,
// the mesh's pre-shared key (pnet), which every agent of the mesh is given.
import { Command } from 'commander'
import { existsSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { z } from 'zod'
import { MeshName, newOwnerKey } from '../../protocols/admission/credential.js'
import { ConfigError } from '../../protocols/core/errors.js'
import { fail, report } from './common.js'
import { writePsk } from '../../node/psk.js'

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
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(path, 'utf8'))
    parsed = OwnerFile.parse(raw)
  } catch (err) {
    // An agent's identity file in its place is the likely mix-up (both hold an Ed25519 key): say so,
    // rather than the schema's four issues as a JSON array.
    const identity = typeof raw === 'object' && raw !== null && (raw as { type?: unknown }).type === 'Ed25519'
    const why = identity
      ? `it is an agent's identity file (peer ${String((raw as { id?: unknown }).id)}); --owner takes the owner key file agentmesh mesh init wrote (mesh-owner.json unless --out)`
      : err instanceof z.ZodError ? err.issues.map(i => `${i.path.join('.') || 'the file'}: ${i.message}`).join('; ') : (err as Error).message
    throw new ConfigError(`${path} is not a mesh owner key file (agentmesh mesh init makes one): ${why}`, { cause: err })
  }
  const key = privateKeyFromProtobuf(Buffer.from(parsed.privateKey, 'base64'))
  const issuer = peerIdFromPrivateKey(key).toString()
  if (issuer !== parsed.issuer) throw new ConfigError(`${path}: its key is not the issuer ${parsed.issuer} it names`)
  return { mesh: parsed.mesh, issuer, key }
}

/**
 * What to type instead when a file is taken: the files named for this mesh, beside the ones given
 * (issue 44: the README's Security section, run after the quick start, met the quick start's
 * mesh-owner.json and mesh.psk, which are mesh try's). Nothing when those are taken too.
 */
function otherFiles (mesh: string, out: string, psk: string | undefined): string {
  const ownerFile = existsSync(out) ? join(dirname(out), `${mesh}-owner.json`) : out
  const pskFile = psk !== undefined && existsSync(psk) ? join(dirname(psk), `${mesh}.psk`) : psk
  if ((ownerFile !== out && existsSync(ownerFile)) || (pskFile !== undefined && pskFile !== psk && existsSync(pskFile))) return ''
  return `; for mesh "${mesh}", files of its own: agentmesh mesh init --mesh ${mesh} --out ${ownerFile} ${pskFile !== undefined ? `--psk ${pskFile}` : '--no-psk'}`
}

export function meshCommand (): Command {
  return new Command('mesh')
    .description('the mesh owner\'s key (closed meshes, docs/security.md)')
    .addCommand(new Command('init')
      .description('create the mesh owner key file (mode 0600; keep it offline) and the mesh\'s pre-shared key, and print the issuer id')
      .requiredOption('--mesh <name>', 'mesh name the credentials will be for')
      .option('--out <file>', 'owner key file to create (never overwritten)', 'mesh-owner.json')
      .option('--psk <file>', 'pre-shared key file to create (mode 0600, never overwritten; default: mesh.psk beside --out)')
      .option('--no-psk', 'write no pre-shared key (the mesh is then closed by credentials alone)')
      .option('--json', 'print one JSON object')
      .action(async (o) => {
        try {
          const mesh = MeshName.safeParse(o.mesh)
          if (!mesh.success) fail(`--mesh: ${mesh.error.issues[0].message}`)
          const key = await newOwnerKey()
          const issuer = peerIdFromPrivateKey(key).toString()
          const body = { type: 'agentmesh-mesh-owner', mesh: mesh.data, issuer, privateKey: Buffer.from(privateKeyToProtobuf(key)).toString('base64') }
          const psk: string | undefined = o.psk === false ? undefined : typeof o.psk === 'string' ? o.psk : join(dirname(o.out), 'mesh.psk')
          // 'wx' for both: an owner key replaced by mistake orphans every credential it signed, a
          // mesh key replaced cuts off every node that holds the old one.
          const exists = (err: unknown, file: string, flag: string): void => {
            if ((err as NodeJS.ErrnoException).code === 'EEXIST') fail(`${file} exists: a mesh ${flag === '--out' ? 'owner' : 'pre-shared'} key is never overwritten (give another ${flag})${otherFiles(mesh.data, o.out, psk)}`)
            throw err
          }
          if (psk !== undefined) await writePsk(psk).catch(err => { exists(err, psk, '--psk') })
          try {
            await writeFile(o.out, JSON.stringify(body, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
          } catch (err) {
            // Not half a mesh: the key just written goes with the owner file that failed.
            if (psk !== undefined) await rm(psk, { force: true })
            exists(err, o.out, '--out')
          }
          const line = { event: 'mesh-owner', mesh: mesh.data, issuer, file: o.out, ...(psk !== undefined ? { psk } : {}) }
          const text = [
            issuer,
            `created ${o.out} (mesh ${mesh.data}); keep it offline: it signs every credential`,
            ...(psk !== undefined ? [`created ${psk}: the mesh's pre-shared key; give it to every agent (--psk ${psk}), and to no one else`] : [])
          ].join('\n')
          process.stdout.write(o.json === true ? JSON.stringify(line) + '\n' : text + '\n')
        } catch (err) {
          report(err)
        }
      }))
}
