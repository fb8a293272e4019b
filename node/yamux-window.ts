/**
 * Yamux window updates after half the window, not after every frame. js-yamux
 * (@chainsafe/libp2p-yamux 8) answers every data frame it receives with a window update giving
 * back what that frame used: a request and its answer cost each side one more frame, and on
 * TCP one more socket write, which the receiver then decrypts and parses. go-yamux, rust-yamux
 * and hashicorp/yamux give the window back once half of it is used, and so does this: while a
 * stream is established and less than half its receive window is used and not yet given back,
 * no update is sent; the next frame that takes it past half sends one for everything used. The
 * sender's credit never runs out before that (half a window, 128 KiB at the least, is left), so
 * no stream waits on it, and the wire is the same yamux every peer already speaks.
 *
 * Measured (bench:coordination, a coordinator and 10 agents, 12 requests a round): with this and
 * node/socket-cork.ts, the processes' CPU for the same rounds fell by a fifth to a quarter, and
 * the coordinator's socket writes from 47% of its busy CPU to 29% (docs/benchmarks.md, "Fewer
 * socket writes"). The fix belongs upstream (send the update at half the window); until then the
 * stream's prototype is wrapped once, here, and the rest of the update is js-yamux's own.
 */
import { YamuxStream, StreamState } from '@chainsafe/libp2p-yamux/stream'

interface Window { state: StreamState, recvWindow: number, recvWindowCapacity: number, sendWindowUpdate: () => void }

const proto = YamuxStream.prototype as unknown as Window & { halfWindow?: true }
if (proto.halfWindow !== true) {
  const update = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: Window): void {
    // Other states carry flags (SYN, ACK) on the update, or pause it: js-yamux decides those.
    if (this.state === StreamState.Established && this.recvWindow - this.recvWindowCapacity < this.recvWindow / 2) return
    update.call(this)
  }
  proto.halfWindow = true
}
