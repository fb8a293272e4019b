/**
 * Broadcast over the streams a node already has to its peers (issue 15): one long-lived
 * /agentmesh/fanout/1.0.0 stream to each directly connected peer that speaks it, on which a
 * publisher writes each batch once per subscriber, with no gossip signature (Noise authenticated
 * the stream, and the receiver checks every envelope's source against that peer) and none of
 * gossip's duplicate copies, IHAVE/IWANT or IDONTWANT. Gossip stays for every topic with a
 * subscriber beyond the publisher's direct peers (reach.ts), for meshes past `directFanout`
 * subscribers, for peers that do not speak the protocol, and as the repair path of a batch a
 * stream could not take.
 */
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Logger } from 'pino'
import type { Uint8ArrayList } from 'uint8arraylist'
import { AgentMeshError } from '../core/errors.js'
import { COMPRESSION_CODECS, compressFrame, inflateFrame, type CompressionCodec } from '../envelope/compression.js'
import { WIRE_JSON_V1 } from '../envelope/constants.js'
import { SHARED_HEAD_CODEC } from '../envelope/shared-head.js'
import { FrameDecoder } from '../rpc/frames.js'
import { CONNECTION_BACKGROUND_DELAY_MS } from '../rpc/constants.js'
import { DRAIN_WAIT_MS } from './constants.js'
import { batchFrame, controlFrame, FANOUT_PROTOCOL, parseFrame, REACH_MAX_PEERS, WEIGHS_DIRECT_HALF, type Control } from './fanout-wire.js'
import type { Charge, GossipMetrics } from './gossip-limits.js'
import { ownReach, ReachTable } from './reach.js'
import type { BatchForms } from './sealed-batch.js'

/** libp2p's typed listeners, as its untyped add/removeEventListener takes them (no DOM types in the build). */
type Listener = (evt: Event) => void

export interface FanoutInit {
  libp2p: Libp2p<{ pubsub: GossipSub }>
  mesh: string
  stats: GossipMetrics
  log: Logger
  /** Subscribers of a topic reached directly at most; past it the topic's batches go by gossip. */
  maxPeers: number
  /** The largest frame taken (a batch's limit and its topic). */
  maxFrameBytes: number
  /** Batches of at least `minBytes` are compressed with `codec` for peers that accept it. */
  compression?: { codec: CompressionCodec, minBytes: number }
  /** This node's topics (names) and, for each, its connected peers that subscribe. */
  topics: () => Iterable<string>
  subscribersOf: (topic: string) => string[]
  /**
   * Admission (closed mesh): whether this node may write to `peer` at all. No stream is opened to
   * a peer it refuses, no hello, reach or batch goes to it; one admitted later is linked then
   * (`admissionChanged`). Unset: every peer.
   */
  admitted?: (peer: string) => boolean
  /**
   * A batch `peer` wrote (decompressed: WIRE_JSON_V1 and the JSON array); `charge`: whether its
   * hello said it budgets frames at the direct weight.
   */
  onBatch: (peer: string, topic: string, batch: Uint8Array, charge: Exclude<Charge, 'gossip'>) => void
  /**
   * Whether `peer`'s batch frames are read at all (the gossip guard: not while it is held or
   * cooling down after going over its limit). A frame refused here is dropped before it is
   * decompressed or parsed. Unset: always.
   */
  reads?: (peer: string) => boolean
}

interface Link {
  /** Ours, written to; undefined while closed. */
  out?: Stream
  opening?: boolean
  /** When an out stream that closed may be opened again. */
  retryAt?: number
  /** The reach text last written on `out`. */
  sentReach?: string
  /** Theirs: their hello, once it came on their stream. */
  hello?: { mesh: string, accepts: ReadonlySet<string> }
  inbound?: Stream
}

/** Changes of subscriptions are gathered this long before this node tells its reach. */
const REACH_DEBOUNCE_MS = 10
/** And the reach is looked at again this often (a peer gone from gossipsub's view with no event for it). */
const REACH_REFRESH_MS = 1_000
/** An out stream that closed while its peer stays connected is opened again after this long. */
const REOPEN_AFTER_MS = 1_000
const OPEN_TIMEOUT_MS = 10_000
/** Our stream and a replacement during a reconnect. */
const MAX_STREAMS = 2

export class Fanout {
  private readonly init: FanoutInit
  private readonly self: string
  private readonly links = new Map<string, Link>()
  private readonly reach = new ReachTable()
  private readonly accepts: string[]
  private reachTimer?: ReturnType<typeof setTimeout>
  private refresh?: ReturnType<typeof setInterval>
  private started = false
  /** Out streams waiting to be opened (onIdentify). */
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  /** Peers whose identify listed the protocol: linked once admitted, if they were not when identified. */
  private readonly speakers = new Set<string>()
  private readonly onIdentify = (e: CustomEvent<{ peerId: PeerId, protocols: string[], connection: Connection }>): void => {
    const { peerId, protocols, connection } = e.detail
    if (!protocols.includes(FANOUT_PROTOCOL)) return
    this.speakers.add(peerId.toString())
    // After the application's first request on the connection, if it makes one at once (rpc/constants.ts).
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.started) return
      // This connection, or another open by then (a link made for a peer gone would never be forgotten).
      if (connection.status === 'open') this.open(peerId.toString(), connection)
      else if (this.init.libp2p.getConnections(peerId).some(c => c.status === 'open')) this.open(peerId.toString())
    }, CONNECTION_BACKGROUND_DELAY_MS)
    this.timers.add(timer)
  }

  private readonly onDisconnect = (e: CustomEvent<PeerId>): void => { this.speakers.delete(e.detail.toString()); this.forget(e.detail.toString()) }
  private readonly onSubscriptions = (): void => { this.reachChanged() }

  constructor (init: FanoutInit) {
    this.init = init
    this.self = init.libp2p.peerId.toString()
    // Every codec this build has is understood (a browser bundle has none); which one this node
    // writes is its own setting. And how it charges a batch frame.
    this.accepts = [...COMPRESSION_CODECS, WEIGHS_DIRECT_HALF, SHARED_HEAD_CODEC]
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    const { libp2p } = this.init
    const limits = { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS }
    await libp2p.handle(FANOUT_PROTOCOL, (stream, connection) => { this.onInbound(stream, connection) }, limits)
    libp2p.addEventListener('peer:identify', this.onIdentify as Listener)
    libp2p.addEventListener('peer:disconnect', this.onDisconnect as Listener)
    libp2p.services.pubsub.addEventListener('subscription-change', this.onSubscriptions)
    this.refresh = setInterval(() => { this.sendReach() }, REACH_REFRESH_MS)
    this.refresh.unref?.()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    const { libp2p } = this.init
    libp2p.removeEventListener('peer:identify', this.onIdentify as Listener)
    libp2p.removeEventListener('peer:disconnect', this.onDisconnect as Listener)
    libp2p.services.pubsub.removeEventListener('subscription-change', this.onSubscriptions)
    if (this.reachTimer !== undefined) clearTimeout(this.reachTimer)
    if (this.refresh !== undefined) clearInterval(this.refresh)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.reachTimer = this.refresh = undefined
    await libp2p.unhandle(FANOUT_PROTOCOL).catch(() => {})
    for (const link of this.links.values()) {
      link.out?.abort(new Error('node stopping'))
      link.inbound?.abort(new Error('node stopping'))
    }
    this.links.clear()
  }

  /**
   * The peers to write a batch of `topic` to, when that reaches every subscriber (`subscribers`:
   * those connected to this node); undefined when the batch must go by gossip.
   */
  targets (topic: string, subscribers: string[]): string[] | undefined {
    if (subscribers.length > this.init.maxPeers) return undefined
    for (const peer of subscribers) {
      const link = this.links.get(peer)
      if (link?.out === undefined || link.hello?.mesh !== this.init.mesh) {
        if (link?.out === undefined) this.reopen(peer)
        return undefined
      }
    }
    return this.reach.covers(this.self, topic, subscribers) ? subscribers : undefined
  }

  /** Whether every one of `peers` said it charges a batch frame at DIRECT_FRAME_WEIGHT (an older build charges it in full). */
  weighHalf (peers: readonly string[]): boolean {
    for (const peer of peers) if (this.links.get(peer)?.hello?.accepts.has(WEIGHS_DIRECT_HALF) !== true) return false
    return true
  }

  /** Subscribers beyond `subscribers` (this node's) that those told of in their reach (reach.ts). */
  relayed (topic: string, subscribers: readonly string[]): string[] {
    return this.reach.beyond(this.self, topic, subscribers)
  }

  /**
   * Writes one batch to each peer (each frame built once: compressed for those that accept the
   * codec, else with a shared head for those that read it, else plain) and waits, a bounded while,
   * for streams whose buffer is full: a publisher that outruns a subscriber is held at publish.
   * Resolves with the peers it could not write to.
   */
  async send (topic: string, peers: readonly string[], forms: BatchForms): Promise<string[]> {
    const failed: string[] = []
    const waits: Array<Promise<void>> = []
    const c = this.init.compression
    let plain: Uint8Array | undefined
    let packed: Uint8Array | undefined
    let shared: Uint8Array | undefined
    for (const peer of peers) {
      const link = this.links.get(peer)
      const out = link?.out
      if (out === undefined || out.writeStatus !== 'writable' || this.init.admitted?.(peer) === false) { failed.push(peer); continue }
      let frame: Uint8Array
      const accepts = link?.hello?.accepts
      // A compressed frame inflates to WIRE_JSON_V1: a batch with sealed groups (0x04, or 0x03 from
      // an older build) keeps its byte, uncompressed: most of its bytes are ciphertext, which does not compress.
      const batch = c !== undefined && accepts?.has(c.codec) === true ? forms.plain() : undefined
      if (c !== undefined && batch !== undefined && batch[0] === WIRE_JSON_V1 && batch.byteLength >= c.minBytes) {
        frame = packed ??= batchFrame(topic, compressFrame(batch, c.codec))
      } else {
        const head = accepts?.has(SHARED_HEAD_CODEC) === true ? forms.sharedHead() : undefined
        frame = head !== undefined ? (shared ??= batchFrame(topic, head)) : (plain ??= batchFrame(topic, forms.plain()))
      }
      try {
        if (!out.send(frame)) waits.push(out.onDrain({ signal: AbortSignal.timeout(DRAIN_WAIT_MS) }).catch(() => {}))
      } catch {
        failed.push(peer)
      }
    }
    if (waits.length > 0) await Promise.all(waits)
    return failed
  }

  /**
   * A peer was admitted or expelled (closed mesh): link those now admitted that speak the
   * protocol; a link to one no longer admitted is closed, so nothing more is written to it.
   */
  admissionChanged (): void {
    if (!this.started) return
    const admitted = this.init.admitted
    if (admitted === undefined) return
    for (const peer of this.speakers) if (admitted(peer) && this.links.get(peer)?.out === undefined) this.open(peer)
    for (const [peer, link] of this.links) {
      if (link.out !== undefined && !admitted(peer)) { link.out.abort(new Error('not admitted')); link.out = undefined }
    }
    this.reachChanged()
  }

  /** Subscriptions changed (here or at a peer): tell every peer our reach, soon. */
  reachChanged (): void {
    if (this.reachTimer !== undefined || !this.started) return
    this.reachTimer = setTimeout(() => { this.reachTimer = undefined; this.sendReach() }, REACH_DEBOUNCE_MS)
  }

  private sendReach (): void {
    if (!this.started || this.links.size === 0) return
    const reach = ownReach(this.init.topics(), this.init.subscribersOf, REACH_MAX_PEERS)
    const text = JSON.stringify(reach)
    for (const [peer, link] of this.links) {
      if (link.out === undefined || link.sentReach === text || this.init.admitted?.(peer) === false) continue
      if (this.write(link.out, controlFrame({ reach }))) link.sentReach = text
    }
  }

  private write (stream: Stream, frame: Uint8Array): boolean {
    try {
      stream.send(frame) // control frames are small and rare: written even past the high-water mark
      return true
    } catch {
      return false
    }
  }

  private link (peer: string): Link {
    let link = this.links.get(peer)
    if (link === undefined) { link = {}; this.links.set(peer, link) }
    return link
  }

  /** Opens our stream to a peer that speaks the protocol, and says hello and our reach on it. */
  private open (peer: string, connection?: Connection): void {
    // Not a byte to a peer not admitted (closed mesh): linked by admissionChanged once it is.
    if (this.init.admitted?.(peer) === false) return
    const link = this.link(peer)
    if (!this.started || link.out !== undefined || link.opening === true) return
    const conn = connection ?? this.init.libp2p.getConnections().find(c => c.remotePeer.toString() === peer && c.status === 'open')
    if (conn === undefined) return
    link.opening = true
    conn.newStream(FANOUT_PROTOCOL, { signal: AbortSignal.timeout(OPEN_TIMEOUT_MS) }).then((stream) => {
      link.opening = false
      if (!this.started || this.links.get(peer) !== link) { stream.abort(new Error('not wanted')); return }
      link.out = stream
      link.sentReach = undefined
      stream.addEventListener('close', () => {
        if (link.out === stream) { link.out = undefined; link.retryAt = Date.now() + REOPEN_AFTER_MS }
      })
      this.write(stream, controlFrame({ hello: { mesh: this.init.mesh, accepts: this.accepts } }))
      this.sendReach()
    }, (err: Error) => {
      link.opening = false
      link.retryAt = Date.now() + REOPEN_AFTER_MS
      this.init.log.debug({ peer, error: err.message }, 'fan-out stream not opened')
    })
  }

  private reopen (peer: string): void {
    const link = this.links.get(peer)
    if (link === undefined || (link.retryAt ?? 0) > Date.now()) return
    this.open(peer)
  }

  private forget (peer: string): void {
    const link = this.links.get(peer)
    this.links.delete(peer)
    this.reach.forget(peer)
    link?.out?.abort(new Error('peer disconnected'))
    link?.inbound?.abort(new Error('peer disconnected'))
  }

  private onInbound (stream: Stream, connection: Connection): void {
    const peer = connection.remotePeer.toString()
    const link = this.link(peer)
    // A newer stream replaces the old: the peer reconnected. What it told on the old is told again.
    link.inbound?.abort(new Error('replaced'))
    link.inbound = stream
    link.hello = undefined
    this.reach.forget(peer)
    const decoder = new FrameDecoder(this.init.maxFrameBytes + 512)
    stream.addEventListener('message', (e) => { this.onData(peer, link, stream, decoder, e.data) })
    stream.addEventListener('close', () => {
      if (link.inbound !== stream) return
      link.inbound = undefined
      link.hello = undefined
      this.reach.forget(peer)
    })
    // The peer learns of our topics on our stream: open it if identify has not yet.
    this.open(peer, connection)
  }

  private onData (peer: string, link: Link, stream: Stream, decoder: FrameDecoder, chunk: Uint8Array | Uint8ArrayList): void {
    try {
      for (const body of decoder.push(chunk)) {
        const frame = parseFrame(body)
        if (frame.kind === 'control') this.onControl(peer, link, frame.control)
        else if (link.hello === undefined || link.hello.mesh !== this.init.mesh) {
          this.init.stats.inc('gossip_rejected_total', { reason: 'fanout_no_hello' })
        } else if (this.init.reads?.(peer) !== false) {
          const charge = link.hello.accepts.has(WEIGHS_DIRECT_HALF) ? 'direct' : 'direct-legacy'
          this.init.onBatch(peer, frame.topic, inflateFrame(frame.batch, this.init.maxFrameBytes), charge)
        }
      }
    } catch (err) {
      // Broken framing: nothing after it on this stream can be trusted. The peer's other
      // streams, and every other peer, are unaffected; it falls back to gossip.
      const code = err instanceof AgentMeshError ? err.code : 'MSG002'
      this.init.stats.inc('gossip_rejected_total', { reason: 'fanout_framing' })
      this.init.log.warn({ peer, code, error: (err as Error).name, detail: (err as Error).message }, 'fan-out stream broken: closed')
      stream.abort(err as Error)
    }
  }

  private onControl (peer: string, link: Link, control: Control): void {
    if (control.hello !== undefined) link.hello = { mesh: control.hello.mesh, accepts: new Set(control.hello.accepts) }
    if (control.reach !== undefined && link.hello?.mesh === this.init.mesh) this.reach.set(peer, control.reach)
  }
}
