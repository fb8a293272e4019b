/**
 * One socket write for what libp2p hands TCP at once, on our own connections only.
 *
 * Measured on @libp2p/tcp 11.0.28 (pinned by test/node/adaptations/adaptations.test.ts, whose source hash fails
 * when `sendData` changes). @libp2p/tcp writes each buffer of a send with its own
 * `socket.write`, and Noise hands it two for every message it encrypts (the 2-byte length, then
 * the ciphertext): two system calls where one would do, and on loopback each call also runs the
 * receiving side's TCP work. A coordinator asking 10 agents spent 47% of its busy CPU in
 * `writeBuffer` (bench:coordination, profiled). Corking the socket for the length of one send
 * makes it one `writev`; nothing waits for a later turn, so no message leaves later than before
 * (corking for a whole turn did delay the handshake's messages, docs/benchmarks.md). The upstream
 * issue text is in docs/upstream.md.
 *
 * Only sends that fit under the socket's high-water mark are corked: a corked socket reports
 * itself full once that much is buffered, which would stop a large send at the mark and wait
 * for a drain; large sends are few writes for many bytes anyway. @libp2p/tcp does not export its
 * connection class, and no class is touched: each connection our node's gater is shown gets a
 * `sendData` of its own that corks around TCP's. The gater sees every inbound connection and the
 * outbound ones dialled at an address naming the peer (libp2p asks only then): a connection
 * dialled at an address without a peer id goes uncorked, which costs speed, not correctness.
 */
import type { Socket } from 'node:net'
import type { Uint8ArrayList } from 'uint8arraylist'

type Send = (data: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean }
interface SocketConnection { socket?: Socket, sendData?: Send & { corked?: true } }

/** Cork the sends of `maConn` (a TCP connection: it has a net.Socket); any other is left alone. */
export function corkSends (maConn: unknown): void {
  const conn = maConn as SocketConnection
  const send = conn.sendData
  if (typeof send !== 'function' || send.corked === true || typeof conn.socket?.cork !== 'function') return
  const corked = function (this: SocketConnection, data: Uint8ArrayList) {
    const s = this.socket
    const pieces = (data as unknown as { bufs: unknown[] }).bufs.length
    if (s === undefined || pieces < 2 || s.writableLength + data.byteLength > s.writableHighWaterMark) return send.call(this, data)
    s.cork()
    try {
      return send.call(this, data)
    } finally {
      s.uncork()
    }
  }
  conn.sendData = Object.assign(corked, { corked: true as const })
}
