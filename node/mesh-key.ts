/**
 * The connection protector of `security.psk`: libp2p's private-network protocol (pnet v1, the
 * one go-libp2p and `@libp2p/pnet` speak: each side sends a random 24-byte nonce, then every
 * byte each way is XORed with XSalsa20(psk, the sender's nonce)), written on @noble/ciphers.
 *
 * Why not `@libp2p/pnet`'s own: its cipher, the `xsalsa20` package, keeps one WebAssembly memory
 * for the whole process and a view of it per cipher; when one cipher grows the memory the other
 * views go stale and each grows it again at its next chunk, so a node with a busy pnet connection
 * reaches WebAssembly's 4 GiB limit and throws from a socket's data event: the process dies
 * (bench/security.ts killed a node in its fourth second of broadcast; js-libp2p#3585 has the
 * fix, not in a release as of @libp2p/pnet 3.0.27). Ours: Salsa20's blocks in a small
 * WebAssembly SIMD module of our own whose memory never grows (node/crypto/salsa20-simd.ts), the pure-JS
 * cipher where a runtime lacks SIMD. The wire is the same: test/node/pnet.test.ts connects both ways with
 * `@libp2p/pnet`'s protector.
 */
import type { AbortOptions, ConnectionProtector, MultiaddrConnection } from '@libp2p/interface'
import { InvalidParametersError } from '@libp2p/interface'
import { AbstractMultiaddrConnection, byteStream, type SendResult } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'
import { hsalsa, xsalsa20 } from '@noble/ciphers/salsa.js'
import { DATA_AT, DATA_MAX, SIGMA, salsaSimd, type SalsaSimd } from './crypto/salsa20-simd.js'
import { deadline } from '../protocols/core/deadline.js'

const NONCE_BYTES = 24
const KEY_BYTES = 32
const BLOCK = 64
/** A nonce exchange that takes longer is no peer of this mesh (pnet's own default). */
const HANDSHAKE_TIMEOUT_MS = 1_000
/** How long a dial waits for the listener's nonce (within the dial's own deadline). */
const NONCE_WAIT_MS = 5_000

/** The 32 key bytes of a v1 swarm key file (its third line, hex); the file was checked by readPsk. */
export function keyOfPskFile (file: Uint8Array): Uint8Array {
  const hex = Buffer.from(file).toString('latin1').split(/\r?\n/)[2]?.trim() ?? ''
  const key = Buffer.from(hex, 'hex')
  if (key.byteLength !== KEY_BYTES) throw new InvalidParametersError('a mesh key holds 32 bytes in hex on its third line')
  return new Uint8Array(key)
}

/** Words of a little-endian byte string (hsalsa's inputs). */
const words = (b: Uint8Array): Uint32Array => {
  const out = new Uint32Array(b.byteLength / 4)
  for (let i = 0; i < out.length; i++) out[i] = b[4 * i] | (b[4 * i + 1] << 8) | (b[4 * i + 2] << 16) | (b[4 * i + 3] << 24)
  return out
}
const SIGMA_WORDS = new Uint32Array(SIGMA)
const TWO_32 = 2 ** 32
/** A new array whose every byte is written before it is read (Node's unzeroed Buffer where there is one). */
const alloc: (n: number) => Uint8Array = typeof Buffer !== 'undefined' ? (n) => Buffer.allocUnsafe(n) : (n) => new Uint8Array(n)

/**
 * XSalsa20 as one stream over many chunks: each chunk continues the key stream where the last
 * stopped. XSalsa20 is Salsa20 under a subkey (HSalsa20 of the key and the nonce's first 16
 * bytes) with the nonce's last 8: the subkey is made once, and the blocks come from the
 * WebAssembly SIMD core (node/crypto/salsa20-simd.ts, ~5× the JS one) where the runtime has it.
 */
export class KeyStream {
  private offset = 0
  private readonly subkey: Uint8Array
  private readonly tail: Uint8Array
  /** `core`: the SIMD module, or null for the JS cipher (what a runtime without SIMD gets; tests pass it). */
  constructor (private readonly key: Uint8Array, private readonly nonce: Uint8Array, private readonly core: SalsaSimd | null = salsaSimd() ?? null) {
    const sub = new Uint32Array(8)
    hsalsa(SIGMA_WORDS, words(key), words(nonce.subarray(0, 16)), sub)
    this.subkey = new Uint8Array(32)
    for (let i = 0; i < 8; i++) for (let j = 0; j < 4; j++) this.subkey[4 * i + j] = sub[i] >>> (8 * j)
    this.tail = nonce.slice(16, 24)
  }

  /** The chunks' bytes XORed with the next bytes of the stream, as one new array (a list is not joined first). */
  update (data: Uint8Array | Uint8ArrayList): Uint8Array {
    if (data.byteLength === 0) return data instanceof Uint8Array ? data : new Uint8Array(0)
    if (this.core === null) return this.js(data instanceof Uint8Array ? data : data.subarray())
    return this.simd(this.core, data instanceof Uint8Array ? [data] : data, data.byteLength)
  }

  private simd (core: SalsaSimd, chunks: Iterable<Uint8Array>, total: number): Uint8Array {
    const out = alloc(total)
    const mem = core.memory
    // One module per process, its memory shared by every connection: the key goes in when another stream used it last.
    if (core.owner !== this) { mem.set(this.subkey, 0); mem.set(this.tail, 32); core.owner = this }
    let written = 0
    let skip = this.offset % BLOCK // where this pass starts in its first block
    let fill = skip
    const flush = (): void => {
      const block = (this.offset - skip) / BLOCK
      // 64-bit block counter, as XSalsa20 has it (pnet's streams never restart it).
      core.xor(DATA_AT, Math.ceil(fill / 256), block % TWO_32, Math.floor(block / TWO_32))
      out.set(mem.subarray(DATA_AT + skip, DATA_AT + fill), written)
      written += fill - skip
      this.offset += fill - skip
      skip = fill = this.offset % BLOCK
    }
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.byteLength;) {
        const n = Math.min(chunk.byteLength - at, DATA_MAX - fill)
        mem.set(n === chunk.byteLength ? chunk : chunk.subarray(at, at + n), DATA_AT + fill)
        fill += n
        at += n
        if (fill === DATA_MAX) flush()
      }
    }
    if (fill > skip) flush()
    // `out` is unzeroed memory: every byte of it must have been written, or old bytes would go on the wire.
    if (written !== total) throw new InvalidParametersError(`mesh key: ${written} of ${total} bytes encrypted`)
    return out
  }

  /** The connection closed: its key leaves the module's memory. */
  forget (): void {
    if (this.core?.owner !== this) return
    this.core.memory.fill(0, 0, 40)
    this.core.owner = undefined
  }

  /** The pure-JS core (a runtime without WebAssembly SIMD); its counter is 32 bits: 256 GiB a direction. */
  private js (data: Uint8Array): Uint8Array {
    const skip = this.offset % BLOCK
    const counter = Math.floor(this.offset / BLOCK)
    this.offset += data.byteLength
    if (skip === 0) return xsalsa20(this.key, this.nonce, data, undefined, counter)
    // Mid-block: XOR from the block's start and drop the bytes the last chunk already used.
    const padded = new Uint8Array(skip + data.byteLength)
    padded.set(data, skip)
    return xsalsa20(this.key, this.nonce, padded, padded, counter).subarray(skip)
  }
}

interface BoxInit { key: Uint8Array, localNonce: Uint8Array, remoteNonce: Uint8Array, maConn: MultiaddrConnection }

/** The connection above the socket: what goes down is encrypted, what comes up decrypted. */
class BoxedConnection extends AbstractMultiaddrConnection {
  private readonly maConn: MultiaddrConnection
  private readonly inbound: KeyStream
  private readonly outbound: KeyStream

  constructor (init: BoxInit) {
    const { maConn } = init
    super({ log: maConn.log.newScope('mesh-key'), remoteAddr: maConn.remoteAddr, direction: maConn.direction })
    this.maConn = maConn
    this.inbound = new KeyStream(init.key, init.remoteNonce)
    this.outbound = new KeyStream(init.key, init.localNonce)
    maConn.addEventListener('message', (evt) => { if (evt.data.byteLength > 0) this.onData(this.inbound.update(evt.data)) })
    // The socket can take more again: so can this connection.
    maConn.addEventListener('drain', () => { this.onMuxerDrain() })
    maConn.addEventListener('close', (evt) => {
      this.inbound.forget()
      this.outbound.forget()
      if (evt.error == null) this.onTransportClosed()
      else if (evt.local) this.abort(evt.error)
      else this.onRemoteReset()
    })
  }

  async sendClose (options?: AbortOptions): Promise<void> { await this.maConn.close(options) }

  sendData (data: Uint8ArrayList): SendResult {
    return { sentBytes: data.byteLength, canSendMore: this.maConn.send(this.outbound.update(data)) }
  }

  sendReset (err: Error): void { this.maConn.abort(err) }
  sendPause (): void { this.maConn.pause() }
  sendResume (): void { this.maConn.resume() }
}

/** One key of a ring: its id (node/keyring.ts `keyId`) and its 32 bytes. */
export interface RingKey { id: string, key: Uint8Array }

/** The keys a protector works with (node/keyring.ts `Keyring`, or one key alone). */
export interface MeshKeys {
  /** The key outbound connections use. */
  primary: () => RingKey
  /** Every key an inbound connection may use, the primary first. */
  all: () => readonly RingKey[]
  /** A connection made with key `id`, to close if that key is removed; returns its release. */
  track?: (id: string, conn: { abort: (err: Error) => void }) => () => void
  /**
   * An inbound handshake that no key opened, from `remote` (the dialer's address). `plain`: its
   * first bytes were multistream-select's header itself, so the dialer holds no mesh key at all;
   * otherwise it holds another key (or speaks something else).
   */
  refused?: (r: { remote: string, plain: boolean }) => void
}

/**
 * The nonce exchange of a dial failed: the peer closed the connection, or sent no nonce, before
 * the mesh key handshake was done. A pnet listener answers with its nonce at once, so this is a
 * host without this mesh's key (a plain libp2p listener closes on the bytes it cannot parse).
 * Its name is what node/handshake-cause.ts matches; the cause keeps the socket's error.
 */
export class MeshKeyHandshakeError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MeshKeyHandshakeError'
  }
}

/**
 * The first bytes every libp2p dialer sends once the nonces are exchanged: multistream-select's
 * header, length-prefixed (varint 19, then `/multistream/1.0.0\n`; @libp2p/multistream-select
 * `select` writes it with the first protocol, and go-libp2p's dialer does the same), and the
 * listener sends nothing before it has read them. So a listener can tell which key a dialer
 * used from these 20 bytes alone, before it writes a byte under any key.
 */
export const DIALER_HEADER = new Uint8Array([19, ...new TextEncoder().encode('/multistream/1.0.0\n')])

/** The key whose XSalsa20 stream turns the dialer's first bytes into the header, if any: one 64-byte block per key tried. */
export function keyOfDialer (keys: readonly RingKey[], remoteNonce: Uint8Array, first: Uint8Array): RingKey | undefined {
  for (const k of keys) {
    const plain = xsalsa20(k.key, remoteNonce, first)
    if (plain.every((b, i) => b === DIALER_HEADER[i])) return k
  }
  return undefined
}

/**
 * A dialer's nonce, made a length prefix no multistream-select listener takes: a host without a
 * key reads the nonce as the header's length, and a random one is, two times in five, a length of
 * 24 to 127 bytes that it waits for while this side waits for its nonce, both until a timeout
 * (issue 44: 11 s, then "agents seen: none"). With the first two bytes' continuation bits set and
 * the third's low bit, the length is at least 2^14, over the 1,024 that js-libp2p and go-libp2p
 * allow: the host closes at once and the dial fails now (MeshKeyHandshakeError). Three of the
 * nonce's 192 bits are fixed; XSalsa20's random nonces keep 189.
 */
function unparseable (nonce: Uint8Array): void {
  nonce[0] |= 0x80
  nonce[1] |= 0x80
  nonce[2] |= 0x01
}

export class MeshKeyProtector implements ConnectionProtector {
  readonly [Symbol.toStringTag] = 'agentmesh/mesh-key'
  constructor (private readonly keys: MeshKeys) {}

  async protect (connection: MultiaddrConnection, options?: AbortOptions): Promise<MultiaddrConnection> {
    const localNonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES))
    if (connection.direction === 'outbound') unparseable(localNonce)
    const inbound = connection.direction === 'inbound'
    // A dial waits for the listener's nonce at most NONCE_WAIT_MS within its own signal: a keyed
    // listener sends it as the connection opens, while a host without a key mostly closes on our
    // nonce at once but, beside a CPU burner, one dial in about twelve here got neither a nonce nor
    // a close for the dial's whole 10 s, and the client said only "agents seen: none" (issue 44).
    const wait = inbound ? undefined : deadline(NONCE_WAIT_MS, options?.signal)
    const opts = wait !== undefined ? { signal: wait.signal } : options?.signal != null ? options : { signal: AbortSignal.timeout(HANDSHAKE_TIMEOUT_MS) }
    const bytes = byteStream(connection)
    let remote: Awaited<ReturnType<typeof bytes.read>>
    try {
      [remote] = await Promise.all([bytes.read({ bytes: NONCE_BYTES, ...opts }), bytes.write(localNonce, opts)])
    } catch (err) {
      // The dial's own deadline or abort is the dial's to tell.
      if (inbound || options?.signal?.aborted === true) throw err
      const what = wait?.signal.aborted === true
        ? `the peer sent no mesh key nonce within ${NONCE_WAIT_MS} ms`
        : `the peer ended the connection before the mesh key handshake was done (${(err as Error).message})`
      throw new MeshKeyHandshakeError(what, { cause: err })
    } finally {
      wait?.clear()
    }
    const remoteNonce = remote.subarray()
    let chosen = this.keys.primary()
    let first: Uint8Array | undefined
    if (inbound) {
      // A dialer without a key sends multistream-select's header where the nonce goes: said at
      // once and closed, so that it fails now, not when the upgrade times out (its own parse of
      // our nonce may wait for bytes that never come: issue 44, 11 s).
      const plain = remoteNonce.subarray(0, DIALER_HEADER.byteLength).every((b, i) => b === DIALER_HEADER[i])
      // Which key did the dialer use? Trial decryption of its first bytes (DIALER_HEADER says why that is sound).
      if (!plain) first = (await bytes.read({ bytes: DIALER_HEADER.byteLength, ...opts })).subarray()
      const found = first !== undefined ? keyOfDialer(this.keys.all(), remoteNonce, first) : undefined
      if (found === undefined) {
        this.keys.refused?.({ remote: connection.remoteAddr.toString(), plain })
        const err = new InvalidParametersError(plain ? 'the dialer holds no mesh key (it spoke plain multistream-select)' : 'the dialer holds no key of this mesh\'s keyring')
        bytes.unwrap().abort(err)
        throw err
      }
      chosen = found
    }
    const maConn = bytes.unwrap()
    // Read, not lost: the decrypting connection reads them first, as if never taken.
    if (first !== undefined) maConn.unshift(first)
    const boxed = new BoxedConnection({ key: chosen.key, localNonce, remoteNonce, maConn })
    const release = this.keys.track?.(chosen.id, boxed)
    if (release !== undefined) boxed.addEventListener('close', release, { once: true })
    return boxed
  }
}

/** A ring of one key: the key file's bytes (as readPsk returns them); what a node without a keyring (a browser tab) uses. */
export function singleKey (pskFile: Uint8Array): MeshKeys {
  const k: RingKey = { id: 'psk', key: keyOfPskFile(pskFile) }
  return { primary: () => k, all: () => [k] }
}

/** libp2p's `connectionProtector` for a keyring, or for the key file's bytes (as readPsk returns them). */
export function meshKey (keys: Uint8Array | MeshKeys): () => ConnectionProtector {
  const ring = keys instanceof Uint8Array ? singleKey(keys) : keys
  return () => new MeshKeyProtector(ring)
}
