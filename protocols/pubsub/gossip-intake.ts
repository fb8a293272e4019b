/**
 * The reading of inbound gossip streams (issue 13, gossip flood). Gossipsub reads each peer's
 * stream with `for await`, and libp2p 3 streams buffer without bound (yamux grants window as
 * soon as data arrives, and the stream's iterator queues every chunk), so a peer that sends
 * faster than this node validates builds a backlog that the loop then works through in one run
 * of microtasks: no timer, no socket read, no other peer's request ran for seconds (measured:
 * stalls of 3-4 s on the victim of a flat-out flooder, with the honest peer's requests and
 * broadcast behind them). Two things change how gossipsub reads, without changing what it does
 * with what it reads:
 *
 * - **Refused unread.** Each RPC (a length-prefixed gossipsub frame) of a peer the guard refuses
 *   (over its publish limit, in its cool-down, or below gossipsub's graylist threshold) is
 *   dropped before gossipsub decodes it or verifies a signature in it: a flooder costs this node
 *   the decryption and framing of its bytes, not their validation, from its first refusal on
 *   (gossipsub's own graylisting waits for its score cache, up to a second, and meanwhile
 *   verifies everything).
 * - **Turns.** A stream yields to the event loop after `SLICE_RPCS` RPCs or `SLICE_MS` of work,
 *   so a backlog is worked through in slices between which timers, sockets and other peers'
 *   streams run: the honest peer's requests wait for a slice, not for the flood.
 *
 * It replaces gossipsub's `pipePeerReadStream` on the instance with one that hands the original
 * the filtered, sliced source: the decoding and handling stay gossipsub's.
 */
import type { GossipSub } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

/** Yields to the event loop (setImmediate in Node.js; a browser tab has only setTimeout). */
const nextTurn = async (): Promise<void> => { await new Promise<void>(resolve => { (globalThis.setImmediate ?? setTimeout)(resolve) }) }

/** RPCs one stream hands gossipsub in one turn of the event loop. */
export const SLICE_RPCS = 2
/** ... or work (ms, its own and what the RPCs it handed on left queued) before it yields. */
export const SLICE_MS = 2

/** Dropped RPCs between two looks at the clock. */
const DROPS_PER_CLOCK = 64

export interface IntakeRules {
  /** Whether an RPC of `peer` is read (false: dropped unread; the callee counts it). */
  admits: (peer: string, now: number) => boolean
}

type Source = AsyncIterable<{ subarray: () => Uint8Array }>
interface Piped { pipePeerReadStream: (peerId: PeerId, source: Source) => Promise<void> }

/** Installs the intake on a gossipsub instance (before it starts, so every inbound stream goes through it). */
export function installIntake (gossipsub: GossipSub, rules: IntakeRules): void {
  const gs = gossipsub as unknown as Piped
  const original = gs.pipePeerReadStream
  if (typeof original !== 'function') return // another gossipsub: read as it reads
  gs.pipePeerReadStream = async function (this: unknown, peerId: PeerId, source: Source) {
    return await original.call(this, peerId, intake(peerId.toString(), source, rules))
  }
}

/** The RPCs of one peer's stream that are admitted, a slice per turn of the event loop. */
export async function * intake<T> (peer: string, source: AsyncIterable<T>, rules: IntakeRules): AsyncGenerator<T> {
  let handed = 0
  let dropped = 0
  let sliceStart = performance.now()
  for await (const rpc of source) {
    if (rules.admits(peer, Date.now())) {
      yield rpc
      handed++
    } else if (++dropped % DROPS_PER_CLOCK !== 0) continue // a drop costs microseconds: look at the clock now and then
    // After the yield gossipsub has decoded the RPC and started handling it; the rest of its
    // handling (signature, validators) is queued as microtasks, which run before the next turn.
    if (handed >= SLICE_RPCS || performance.now() - sliceStart >= SLICE_MS) {
      await nextTurn()
      handed = 0
      sliceStart = performance.now()
    }
  }
}
