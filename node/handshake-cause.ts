/**
 * Why a dial failed, told from libp2p's error alone where the bytes allow it (issue 44): a dial
 * whose handshake ended before Noise completed met a host that speaks another first protocol,
 * which between agentmesh nodes means one side holds a mesh key (pnet: every byte XORed with a
 * key stream) and the other none, or another key. libp2p says only what its parser choked on
 * ("Missing newline", "Message length too long - 6167 > 1024") or that the socket was reset.
 */
import { ConnectionError } from '../protocols/core/errors.js'

/**
 * What multistream-select (the step before Noise: `/multistream/1.0.0`, then `/noise`) throws on
 * bytes that are not its own, or on a peer that hung up under it; libp2p's upgrader keeps only
 * the message (EncryptionFailedError). Noise's own failures (a peer id that does not match, a
 * bad signature) say other things and are left as they are.
 */
const BEFORE_NOISE = /^(Missing newline|Message length|Invalid message length|Unexpected EOF|Unexpected end of input|Protocol selection failed|read ECONNRESET|write EPIPE)/i

/** Whether `err`, a dial's error, ended the handshake before Noise completed. */
export function endedBeforeNoise (err: Error): boolean {
  // node/mesh-key.ts: the nonce exchange of a dial with a key ended.
  if (err.name === 'MeshKeyHandshakeError') return true
  return err.name === 'EncryptionFailedError' && BEFORE_NOISE.test(err.message)
}

/**
 * The dial's error, or, for a handshake that ended before Noise completed, a ConnectionError
 * (COM002) that says so and names the likely fix, libp2p's words kept in the message's tail and
 * the cause. `meshKey`: whether this node holds a mesh key.
 */
export function explainDialError (err: Error, meshKey: boolean): Error {
  if (!endedBeforeNoise(err)) return err
  const hint = meshKey
    ? 'does the peer use this mesh key? (a node started without --psk, or with another key, cannot connect to this one)'
    : 'does this mesh use a key? (--psk)'
  return new ConnectionError(`the handshake ended before Noise completed: ${hint} [${err.message}]`, { cause: err })
}
