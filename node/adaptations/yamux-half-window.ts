/**
 * Yamux window updates after half the window, not after every frame, on our own connections only.
 *
 * Measured on @chainsafe/libp2p-yamux 8.0.1 (pinned by test/node/adaptations/adaptations.test.ts, whose source
 * hashes fail when the code this relies on changes). js-yamux answers every data frame it
 * receives with a window update giving back what that frame used: a request and its answer cost
 * each side one more frame, and on TCP one more socket write, which the receiver then decrypts
 * and parses. go-yamux, rust-yamux and hashicorp/yamux give the window back once half of it is
 * used, and so does this: while a stream is established and less than half its receive window is
 * used and not yet given back, no update is sent; the next frame that takes it past half sends
 * one for everything used. The sender's credit never runs out before that (half a window, 128 KiB
 * at the least, is left), so no stream waits on it, and the wire is the same yamux every peer
 * already speaks.
 *
 * Measured (bench:coordination, a coordinator and 10 agents, 12 requests a round): with this and
 * tcp-cork.ts, the processes' CPU for the same rounds fell by a fifth to a quarter, and the
 * coordinator's socket writes from 47% of its busy CPU to 29% (docs/benchmarks.md, "Fewer socket
 * writes"). The upstream issue text is in docs/upstream.md.
 *
 * No class is touched: the muxer factory our node is built with gives each stream it creates its
 * own `sendWindowUpdate`, which decides whether to call js-yamux's. A host's own yamux in the
 * same process updates after every frame, as it always did.
 */
import { yamux } from '@chainsafe/libp2p-yamux'
import { StreamState } from '@chainsafe/libp2p-yamux/stream'

interface Window { state: StreamState, recvWindow: number, recvWindowCapacity: number, sendWindowUpdate: () => void }
interface Creates { _newStream?: (...args: unknown[]) => unknown }

/** js-yamux's factory, each of whose streams gives its window back at half. */
export function halfWindowYamux (...args: Parameters<typeof yamux>): ReturnType<typeof yamux> {
  const factory = yamux(...args)
  return () => {
    const muxers = factory()
    const create = muxers.createStreamMuxer.bind(muxers)
    muxers.createStreamMuxer = (maConn) => {
      const muxer = create(maConn)
      const newStream = (muxer as unknown as Creates)._newStream
      // Another shape than the one measured: left as js-yamux makes it (slower, never wrong).
      if (typeof newStream !== 'function') return muxer;
      (muxer as unknown as Creates)._newStream = function (this: unknown, ...a: unknown[]) {
        const stream = newStream.apply(this, a)
        halfWindow(stream as Partial<Window>)
        return stream
      }
      return muxer
    }
    return muxers
  }
}

function halfWindow (stream: Partial<Window>): void {
  const update = stream.sendWindowUpdate
  if (typeof update !== 'function' || typeof stream.recvWindow !== 'number' || typeof stream.recvWindowCapacity !== 'number') return
  stream.sendWindowUpdate = function (this: Window): void {
    // Other states carry flags (SYN, ACK) on the update, or pause it: js-yamux decides those.
    if (this.state === StreamState.Established && this.recvWindow - this.recvWindowCapacity < this.recvWindow / 2) return
    update.call(this)
  }
}
