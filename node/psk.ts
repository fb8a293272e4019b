/**
 * The mesh's pre-shared key (libp2p private networks, node/mesh-key.ts): `agentmesh mesh init`
 * writes it, `security.psk` names it. Every byte of a connection is then encrypted with it before
 * Noise starts, so a host without the key completes no handshake (docs/security.md "Pre-shared key").
 */
import { readFile, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { ConfigError } from '../protocols/core/errors.js'

/** The v1 swarm key format go-libp2p and js-libp2p share: a tag line, a codec line, 32 bytes in hex. */
const PSK_FORMAT = /^\/key\/swarm\/psk\/1\.0\.0\/\r?\n\/base16\/\r?\n[0-9a-fA-F]{64}\s*$/

/** The key file's bytes, checked, as node/mesh-key.ts takes them; any fault is CFG001. */
export async function readPsk (path: string): Promise<Uint8Array> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw new ConfigError(`cannot read the mesh key (security.psk) ${path}: ${(err as Error).message}`, { cause: err })
  }
  // pnet's own decoder says only "invalid psk": say what a key file looks like, and where it comes from.
  if (!PSK_FORMAT.test(bytes.toString('latin1'))) {
    throw new ConfigError(`${path} is not a mesh key (security.psk): expected "/key/swarm/psk/1.0.0/", "/base16/" and 64 hex digits, as \`agentmesh mesh init\` writes`)
  }
  return new Uint8Array(bytes)
}

/** A new random key written to `path` (mode 0600, never over an existing file: it would cut off every node that has the old one). */
export async function writePsk (path: string): Promise<void> {
  // The v1 swarm key file, as @libp2p/pnet's generateKey writes it (not imported: that module
  // loads a WebAssembly cipher at import, node/mesh-key.ts says why agentmesh does without it).
  const key = `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}`
  await writeFile(path, key, { mode: 0o600, flag: 'wx' })
}
