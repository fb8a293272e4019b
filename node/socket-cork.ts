/**
 * One socket write for what libp2p hands TCP at once. @libp2p/tcp writes each buffer of a send
 * with its own `socket.write`, and Noise hands it two for every message it encrypts (the 2-byte
 * length, then the ciphertext): two system calls where one would do, and on loopback each call
 * also runs the receiving side's TCP work. A coordinator asking 10 agents spent 47% of its busy
 * CPU in `writeBuffer` (bench:coordination, profiled). Corking the socket for the length of one
 * send makes it one `writev`; nothing waits for a later turn, so no message leaves later than
 * before (corking for a whole turn did delay the handshake's messages, docs/benchmarks.md).
 *
 * Only sends that fit under the socket's high-water mark are corked: a corked socket reports
 * itself full once that much is buffered, which would stop a large send at the mark and wait
 * for a drain; large sends are few writes for many bytes anyway. @libp2p/tcp does not export its
 * connection class, so its prototype is taken from the first connection the connection gater is
 * shown and wrapped once, for every TCP connection of the process (other libp2p nodes in it
 * too). The gater sees every inbound connection it is asked about and the outbound ones dialled
 * at an address naming the peer (libp2p asks only then): a node that only ever dials addresses
 * without a peer id and accepts nothing goes uncorked, which costs speed, not correctness.
 */
import type { Socket } from 'node:net'
import type { Uint8ArrayList } from 'uint8arraylist'

interface SocketConnection { socket?: Socket, sendData: (data: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean } }

const wrapped = new WeakSet<object>()

/** Cork the sends of connections of `maConn`'s class (a TCP one: it has a net.Socket). */
export function corkSends (maConn: unknown): void {
  const proto = Object.getPrototypeOf(maConn) as SocketConnection | null
  if (proto === null || wrapped.has(proto)) return
  wrapped.add(proto)
  if (typeof proto.sendData !== 'function' || typeof (maConn as SocketConnection).socket?.cork !== 'function') return
  const send = proto.sendData
  proto.sendData = function (this: SocketConnection, data: Uint8ArrayList) {
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
}
