/**
 * The agent's identity: an Ed25519 key pair whose public key is its peer id. Kept in a file of
 * mode 0600 (like an ssh key) so the peer id, and everything peers know the agent by, survives
 * restarts.
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { z } from 'zod'
import { ConfigError } from '../protocols/core/errors.js'

const IdentityFile = z.strictObject({
  type: z.literal('Ed25519'),
  id: z.string(),
  privateKey: z.string().min(1)
})

export interface Identity {
  privateKey: PrivateKey
  peerId: PeerId
  /** True when the file did not exist and was written now. */
  created: boolean
}

export async function freshIdentity (): Promise<Identity> {
  const privateKey = await generateKeyPair('Ed25519')
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey), created: true }
}

/** Read the identity in `path`, or create it there (and its folder) when there is none. */
export async function loadOrCreateIdentity (path: string): Promise<Identity> {
  const found = await readIdentity(path)
  if (found !== undefined) return found
  const id = await freshIdentity()
  await writeIdentity(path, id)
  return id
}

/** The identity in `path`; undefined when there is no such file. */
export async function readIdentity (path: string): Promise<Identity | undefined> {
  let text: string | undefined
  try {
    const st = await stat(path)
    if ((st.mode & 0o077) !== 0) {
      throw new ConfigError(`identity file ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}): run chmod 600 ${path}`)
    }
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (text === undefined) return undefined
  let parsed: z.infer<typeof IdentityFile>
  let privateKey: PrivateKey
  try {
    parsed = IdentityFile.parse(JSON.parse(text))
    // The key's bytes are checked here too: a damaged key is a damaged file, said as such (CFG001).
    privateKey = privateKeyFromProtobuf(Buffer.from(parsed.privateKey, 'base64'))
  } catch (err) {
    throw new ConfigError(`identity file ${path} is not an agentmesh identity: ${(err as Error).message}`, { cause: err })
  }
  const peerId = peerIdFromPrivateKey(privateKey)
  if (peerId.toString() !== parsed.id) throw new ConfigError(`identity file ${path}: the key does not match the id ${parsed.id}`)
  return { privateKey, peerId, created: false }
}

/** Write `id` to `path` (0600, and its folder 0700), which must not exist yet. */
export async function writeIdentity (path: string, id: Identity): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const body = { type: 'Ed25519', id: id.peerId.toString(), privateKey: Buffer.from(privateKeyToProtobuf(id.privateKey)).toString('base64') }
  // 'wx' so two processes racing to create the same file cannot both win.
  await writeFile(path, JSON.stringify(body, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
  await chmod(path, 0o600)
}
