/**
 * The mesh keyring (issue 13, Consul's `keyring install/use/remove`): the pre-shared keys a node
 * holds, one primary and up to MAX_KEYS - 1 secondaries. Outbound connections use the primary;
 * an inbound one may use any key of the ring, found by trial (node/mesh-key.ts). A key is named
 * by its id, a short hash, never by its bytes.
 *
 * The ring starts from the data directory's keyring file when there is one (a restart keeps
 * what `agentmesh keyring` changed), else from `security.psk` alone. The file is written only
 * when the ring changes, mode 0600, replaced whole (written beside, then renamed), so a crash
 * leaves the old ring or the new one, never half of one.
 */
import { createHash } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError, ValidationError } from '../protocols/core/errors.js'
import { keyOfPskFile, type MeshKeys, type RingKey } from './mesh-key.js'

/**
 * Keys a ring holds at most: a rotation needs two; a few more cover a rotation begun before the
 * last one ended. Each is one more trial per inbound handshake.
 */
export const MAX_KEYS = 4
/** The keyring's file in a data directory. */
export const KEYRING_FILE = 'keyring.json'
/** Hex digits of a key id: 64 bits, enough to tell a handful of keys apart, far too few to find a key by. */
const ID_HEX = 16
/** Hashed before the key, so an id is not the plain SHA-256 of the key anyone might compute for another purpose. */
const ID_DOMAIN = 'agentmesh mesh key id\n'

/** The id of a key: the first 16 hex digits of a domain-separated SHA-256 of its 32 bytes. */
export function keyId (key: Uint8Array): string {
  return createHash('sha256').update(ID_DOMAIN).update(key).digest('hex').slice(0, ID_HEX)
}

export interface KeyInfo { id: string, primary: boolean }

interface Live { abort: (err: Error) => void }

/** What changed: `changed` false when the ring already was so (an install of a key held, a use of the primary). */
export interface Change { id: string, changed: boolean, closed: number }

export class Keyring implements MeshKeys {
  private ring: RingKey[]
  /** Connections by the key they were made with: removing a key closes them. */
  private readonly live = new Map<string, Set<Live>>()
  /** Inbound handshakes refused: no key of the ring opened them (connections_refused_total{reason="mesh_key"}, and a paced log line). */
  onRefused?: (r: { remote: string, plain: boolean }) => void
  /** Whether the ring as it is now is in its file (read from it, or written since the last change). */
  saved = false
  /** Set when this ring came from the data directory and `security.psk` names a key it does not hold (the ring wins). */
  readonly notice?: string

  constructor (keys: Uint8Array[], readonly path?: string, notice?: string) {
    if (keys.length === 0 || keys.length > MAX_KEYS) throw new ConfigError(`a keyring holds 1 to ${MAX_KEYS} keys, not ${keys.length}`)
    this.ring = keys.map(key => ({ id: keyId(key), key }))
    if (notice !== undefined) this.notice = notice
  }

  primary (): RingKey { return this.ring[0] }
  all (): readonly RingKey[] { return this.ring }
  list (): KeyInfo[] { return this.ring.map((k, i) => ({ id: k.id, primary: i === 0 })) }
  has (id: string): boolean { return this.ring.some(k => k.id === id) }
  refused (r: { remote: string, plain: boolean }): void { this.onRefused?.(r) }

  track (id: string, conn: Live): () => void {
    let set = this.live.get(id)
    if (set === undefined) this.live.set(id, set = new Set())
    set.add(conn)
    return () => { set.delete(conn); if (set.size === 0 && this.live.get(id) === set) this.live.delete(id) }
  }

  /** Connections open now that were made with key `id`. */
  connections (id: string): number { return this.live.get(id)?.size ?? 0 }

  /** Adds a secondary key (MSG001 when the ring is full). */
  install (key: Uint8Array): Change {
    const id = keyId(key)
    if (this.has(id)) return { id, changed: false, closed: 0 }
    if (this.ring.length >= MAX_KEYS) throw new ValidationError(`the keyring holds ${MAX_KEYS} keys already: remove one first (agentmesh keyring remove <id>)`)
    this.ring = [...this.ring, { id, key }]
    this.saved = false
    return { id, changed: true, closed: 0 }
  }

  /** Makes an installed key the primary: new outbound connections use it (MSG001 when not installed). */
  use (id: string): Change {
    const at = this.indexOf(id, 'use')
    if (at === 0) return { id, changed: false, closed: 0 }
    const key = this.ring[at]
    this.ring = [key, ...this.ring.filter((_, i) => i !== at)]
    this.saved = false
    return { id, changed: true, closed: 0 }
  }

  /**
   * Removes a secondary key (MSG001 for the primary or an unknown id) and closes the connections
   * made with it: whoever holds only that key is out now, not at its next reconnect.
   */
  remove (id: string): Change {
    const at = this.indexOf(id, 'remove')
    if (at === 0) throw new ValidationError(`key ${id} is the primary: make another key the primary first (agentmesh keyring use <id>)`)
    this.ring = this.ring.filter((_, i) => i !== at)
    this.saved = false
    const conns = [...(this.live.get(id) ?? [])]
    this.live.delete(id)
    for (const c of conns) c.abort(new Error(`mesh key ${id} was removed from the keyring`))
    return { id, changed: true, closed: conns.length }
  }

  /** Writes the ring to its file (nothing without a data directory). */
  async save (): Promise<boolean> {
    if (this.path === undefined) return false
    const tmp = `${this.path}.${process.pid}.tmp`
    await writeFile(tmp, JSON.stringify(keyringFile(this.ring)) + '\n', { mode: 0o600 })
    await rename(tmp, this.path)
    this.saved = true
    return true
  }

  private indexOf (id: string, what: string): number {
    const at = this.ring.findIndex(k => k.id === id)
    if (at < 0) throw new ValidationError(`cannot ${what} key ${id}: not in the keyring (${this.ring.map(k => k.id).join(', ')}); install it first (agentmesh keyring install <file>)`)
    return at
  }
}

interface KeyringFileShape { version: 1, keys: string[] }

function keyringFile (ring: readonly RingKey[]): KeyringFileShape {
  return { version: 1, keys: ring.map(k => Buffer.from(k.key).toString('hex')) }
}

/** The keys of a keyring file's text, primary first; any fault is CFG001 naming the file. */
export function parseKeyringFile (text: string, path: string): Uint8Array[] {
  let data: unknown
  try { data = JSON.parse(text) } catch (err) { throw new ConfigError(`the keyring ${path} is not JSON: ${(err as Error).message}`, { cause: err }) }
  const keys = (data as Partial<KeyringFileShape> | null)?.keys
  if ((data as Partial<KeyringFileShape> | null)?.version !== 1 || !Array.isArray(keys) || keys.length === 0 || keys.length > MAX_KEYS ||
    !keys.every(k => typeof k === 'string' && /^[0-9a-f]{64}$/.test(k))) {
    throw new ConfigError(`the keyring ${path} is damaged: expected { "version": 1, "keys": [1 to ${MAX_KEYS} keys of 64 hex digits] } (move it away to start from security.psk)`)
  }
  return keys.map(k => new Uint8Array(Buffer.from(k, 'hex')))
}

/**
 * A node's keyring: the data directory's file when it has one, else the key of `security.psk`
 * (`pskFile`, its bytes as readPsk returns them); undefined with neither (no mesh key at all).
 */
export async function loadKeyring (dataDir: string | undefined, pskFile: Uint8Array | undefined): Promise<Keyring | undefined> {
  const path = dataDir !== undefined ? join(dataDir, KEYRING_FILE) : undefined
  let text: string | undefined
  if (path !== undefined) {
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`cannot read the keyring ${path}: ${(err as Error).message}`, { cause: err })
    }
  }
  const psk = pskFile !== undefined ? keyOfPskFile(pskFile) : undefined
  if (text === undefined || path === undefined) return psk !== undefined ? new Keyring([psk], path) : undefined
  const keys = parseKeyringFile(text, path)
  // The ring is what the operator last set; a --psk it no longer holds (a key removed since) must not come back.
  const notice = psk !== undefined && !keys.some(k => keyId(k) === keyId(psk))
    ? `security.psk's key ${keyId(psk)} is not in the keyring of the data directory (${path}), which wins: primary ${keyId(keys[0])}`
    : undefined
  const ring = new Keyring(keys, path, notice)
  ring.saved = true
  return ring
}
