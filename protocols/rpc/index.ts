/**
 * Request-response and commands over /agentmesh/rpc/1.0.0 (R-PATTERN). Each node keeps one
 * long-lived stream to each peer it calls and multiplexes requests on it by id: measured 4-5x
 * the throughput of a stream per request, because a new stream costs a multistream-select round.
 */
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { peerIdOf } from '../core/peer-keys.js'
import type { z } from 'zod'
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../envelope/index.js'
import {
  AbortError, AgentMeshError, BadSignatureError, ConfigError, ConnectionError, ForbiddenError, HandlerError, NotAdmittedError, NotSentError,
  TimeoutError, UnknownCommandError, ValidationError
} from '../core/errors.js'
import type { Logger } from 'pino'
import { messageFields } from '../envelope/log-fields.js'
import { hasValidSignature } from '../envelope/signature.js'
import { endSpan, inSpan, SpanKind, startReceiveSpan, startSendSpan } from '../envelope/trace.js'
import { RpcChannel, abortReason } from './channel.js'
import { allows, checkAllow, describeAllow, type Allow, type Command, type Grants, type Handler, type HandleOptions, type RequestOptions } from './commands.js'
import type { AuditSink } from '../core/audit.js'
import { deadline, untilAborted } from '../core/deadline.js'
import { sharedController } from '../core/fan-out-signal.js'
import * as limits from './constants.js'
import { MAX_INBOUND_STREAMS, MAX_OUTBOUND_STREAMS, RPC_PROTOCOL } from './constants.js'
import { RateGuard, type RpcMetrics } from './guard.js'
import { CallerPacer, latestSlot, type Paced } from './pacer.js'
import type { PeerLimiter } from './limits.js'
import { Context, describe, type Caller } from './context.js'
import { isReliable, type Outcome, type ReliableReceiver } from './receiver.js'
import { answerTo } from './answer.js'
import { noSealer, type EncryptFor, type Sealer } from '../sealing/index.js'
import { openRequest, sealAnswer, sealRequest } from '../sealing/direct.js'
import { checkedOutgoing, checkRequest, commandOf, frameRequest, openReply, outgoing, requestDeadline, type AttemptAs, type Deadline, type Framed, type Outgoing } from './outgoing.js'

export * from './commands.js'
export * from './constants.js'
export { RpcChannel } from './channel.js'
export { PeerLimiter, type RateLimits } from './limits.js'
export type { RpcMetrics } from './guard.js'
export { isReliable, type Outcome, type ReliableReceiver } from './receiver.js'
export { checkedOutgoing, checkRequest, issueOnly, type AttemptAs, type Outgoing, type SignedAttempt } from './outgoing.js'

export interface RpcInit {
  libp2p: Libp2p
  stats: RpcMetrics
  log: Logger
  maxMessageBytes: number
  window: number
  /** A dial opened for requests gives up after this (libp2p's own `dialTimeout` applies only without a signal); 10 s unless given. */
  dialTimeoutMs?: number
  timeoutMs: number
  stallTimeoutMs: number
  /**
   * Admission (closed mesh): whether the peer may run the command. A peer refused gets SEC001
   * and its request reaches no handler (nor its schema); the card exchange that admits it is let through.
   */
  admits?: (peer: string, command: string) => boolean | Promise<boolean>
  /**
   * Per-peer limits. Without one, the libp2p node's LIMITER_SERVICE (node/libp2p.ts builds it
   * from the config and gives its cool-downs to the connection gater), else the defaults.
   */
  limiter?: PeerLimiter
  /**
   * The roles and capabilities of a caller, for commands registered with `allow`: the admitted
   * credential's in a closed mesh, the card's claims in an open one; undefined when unknown.
   */
  grants?: (peer: string) => Grants | undefined | Promise<Grants | undefined>
  /** Where refusals are audited (SEC001 not admitted, SEC002 forbidden; the guard's limit breaches). */
  audit?: AuditSink
  /** Seals requests sent with `encryptFor` and their answers, opens those sealed for this node (protocols/sealing/direct.ts). */
  sealer?: Sealer
}

export type SendResult =
  | { peer: string, ok: true, reply: unknown }
  | { peer: string, ok: false, error: AgentMeshError | AbortError }

interface Registered { command: Command, handler: Handler, allow?: Allow }

/** Peers whose last exchange `quietFor` remembers. */
const MAX_EXCHANGE_PEERS = 4_096

export class RpcService {
  private readonly init: RpcInit
  private readonly localPeer: string
  private readonly handlers = new Map<string, Registered>()
  /** Per peer: requests under way either way, and when the last one ended (`quietFor`). Bounded: the oldest ended ones go first. */
  private readonly exchanges = new Map<string, { under: number, endedAt: number }>()
  private readonly outbound = new Map<string, Promise<RpcChannel>>()
  /**
   * The channels of `outbound` once open: a request on one is written at once, without a race
   * of its (settled) opening against the request's signal (a listener added and removed, a
   * promise and two turns of microtasks a request: 5% of a request's CPU in the rpc profile).
   */
  private readonly ready = new Map<string, RpcChannel>()
  private readonly inbound = new Set<RpcChannel>()
  private started = false
  /** Set by `draining()` as the node begins to stop, until the next start. */
  private draining_ = false
  /** The dials under way, aborted when the service stops (one controller each: a shared signal would gather a listener per dial). */
  private readonly dials = new Set<AbortController>()
  private readonly guard: RateGuard
  private readonly pacer = new CallerPacer()
  /** Per-message log lines only when debug is on: the check is made once, not per message. */
  private readonly debug: boolean
  private receiver?: ReliableReceiver
  private readonly sealer: Sealer
  /** This node as the caller of its own requests (serveSelf): its signal aborts when the service stops. */
  private self: Caller & { stop: AbortController }

  constructor (init: RpcInit) {
    this.init = init
    this.sealer = init.sealer ?? noSealer
    this.localPeer = init.libp2p.peerId.toString()
    this.self = selfCaller(this.localPeer)
    this.debug = init.log.isLevelEnabled('debug')
    this.guard = new RateGuard(init)
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.draining_ = false
    if (this.self.stop.signal.aborted) this.self = selfCaller(this.localPeer)
    await this.init.libp2p.handle(RPC_PROTOCOL, (stream, connection) => { this.onInbound(stream, connection) }, {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_OUTBOUND_STREAMS
    })
  }

  /**
   * The node has begun to stop: its services unregister their handlers one by one before this
   * service stops, and a request for one already gone is answered as a connection lost (COM002,
   * fail over), not as an unknown command (CMD001). A peer takes CMD001 for an older build and
   * speaks the older exchange to it for minutes (member-exchange.ts OLDER_FOR_MS), also after it
   * restarts as the same build.
   */
  draining (): void { this.draining_ = true }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.init.libp2p.unhandle(RPC_PROTOCOL).catch(() => {})
    const closing = new ConnectionError('node stopping')
    this.self.stop.abort(closing)
    for (const d of this.dials) d.abort(closing)
    this.dials.clear()
    for (const ch of this.inbound) ch.abort(closing)
    for (const p of this.outbound.values()) p.then(ch => { ch.abort(closing) }, () => {})
    for (const open of [this.inbound, this.outbound, this.ready]) open.clear()
  }

  handle<Req extends z.ZodType, Res extends z.ZodType> (
    command: Command<Req, Res> | string, handler: Handler<Req, Res>, options: HandleOptions = {}
  ): () => void {
    const cmd = commandOf(command)
    if (this.handlers.has(cmd.name)) throw new ConfigError(`a handler for "${cmd.name}" is already registered`)
    const wrong = options.allow !== undefined ? checkAllow(cmd.name, options.allow) : undefined
    if (wrong !== undefined) throw new ConfigError(wrong)
    const entry: Registered = { command: cmd, handler: handler as Handler, ...(options.allow !== undefined ? { allow: options.allow } : {}) }
    this.handlers.set(cmd.name, entry)
    return () => { if (this.handlers.get(cmd.name) === entry) this.handlers.delete(cmd.name) }
  }

  commands (): string[] { return [...this.handlers.keys()] }

  /**
   * How long (ms) since this node last had a request with `peer` under way, either way: 0 while
   * one is, Infinity when none was lately. What lets a connection made for a few requests (to an
   * agent outside the active view, protocols/discovery/view-links.ts) go once it is idle.
   */
  quietFor (peer: string, now = Date.now()): number {
    const e = this.exchanges.get(peer)
    if (e === undefined) return Infinity
    return e.under > 0 ? 0 : Math.max(0, now - e.endedAt)
  }

  private async during<T> (peer: string, work: () => Promise<T>): Promise<T> {
    let e = this.exchanges.get(peer)
    if (e === undefined) {
      if (this.exchanges.size >= MAX_EXCHANGE_PEERS) {
        for (const [p, x] of this.exchanges) if (x.under === 0) { this.exchanges.delete(p); break }
      }
      e = { under: 0, endedAt: 0 }
      this.exchanges.set(peer, e)
    }
    e.under++
    try {
      return await work()
    } finally {
      e.under--
      e.endedAt = Date.now()
      // Most recently used last, so the first ended entry is the oldest.
      this.exchanges.delete(peer)
      this.exchanges.set(peer, e)
    }
  }

  /** Reliable delivery's side of the server (protocols/delivery sets it once, when built). */
  receiveWith (receiver: ReliableReceiver): void { this.receiver = receiver }

  /** Send a request to one peer and return its typed answer, or throw its typed error. */
  async request<Req extends z.ZodType, Res extends z.ZodType> (
    peer: string, command: Command<Req, Res> | string, payload: z.input<Req>, options: RequestOptions = {}
  ): Promise<z.output<Res>> {
    return await this.attempt(this.prepare(peer, command, payload, options.encryptFor), options) as z.output<Res>
  }

  /**
   * Where a caller's payload enters (outgoing.ts): checked against the command's schema (MSG001,
   * nothing sent; `say` words the issue) and sealed for `peer` with `encryptFor`. Nothing after this checks it again.
   */
  prepare (peer: string, command: Command | string, payload: unknown, encryptFor?: EncryptFor, say?: (e: z.ZodError) => string): Outgoing {
    const cmd = commandOf(command)
    return outgoing(this.sealer, peer, cmd, checkRequest(cmd, payload, say), encryptFor)
  }

  /** A payload, checked before, sealed for `peer` as `encryptFor` seals a request's. */
  sealFor (peer: string, command: string, payload: unknown, to: EncryptFor): unknown {
    return sealRequest(this.sealer, peer, command, payload, to)
  }

  /**
   * `request` under a given envelope id (fresh when undefined). `presealed`: the payload was
   * checked and sealed before (`sealFor`): sent as it is, its answer opened.
   */
  async requestAs<Req extends z.ZodType, Res extends z.ZodType> (
    id: string | undefined, peer: string, command: Command<Req, Res> | string, payload: z.input<Req>, options: RequestOptions = {}, presealed = false
  ): Promise<z.output<Res>> {
    const out = presealed ? checkedOutgoing(peer, commandOf(command), payload, true) : this.prepare(peer, command, payload, options.encryptFor)
    return await this.attempt(out, options, id !== undefined ? { id } : {}) as z.output<Res>
  }

  /**
   * One attempt of a prepared request, in the order it travels: its deadline, the send span, the
   * frame, the exchange on the peer's channel, the answer opened. protocols/delivery sends each
   * attempt of one message, and a replayed dead letter, under the message's first id (`as.id`).
   */
  async attempt (out: Outgoing, options: RequestOptions = {}, as: AttemptAs = {}): Promise<unknown> {
    const limit = requestDeadline(out, options.timeoutMs ?? this.init.timeoutMs, options.signal)
    const headers: Record<string, string> = { ...options.headers }
    const name = out.command.name
    const { span } = startSendSpan(`agentmesh request ${name}`, SpanKind.CLIENT, { 'agentmesh.peer_id': this.localPeer, 'agentmesh.remote_peer': out.peer, 'agentmesh.subject': name }, headers)
    let failure: AgentMeshError | Error | undefined
    try {
      const framed = frameRequest(out, this.localPeer, options, as, limit.timeoutMs, headers, this.init.maxMessageBytes)
      const reply = await this.during(out.peer, async () => await this.exchange(out, framed, limit, options.rateLimitRetries ?? limits.RATE_LIMIT_RETRIES))
      return openReply(this.sealer, out, reply, framed.env.id)
    } catch (err) {
      failure = err as Error
      throw err
    } finally {
      endSpan(span, failure)
      limit.clear()
    }
  }

  /**
   * The frame on the peer's channel and its answer awaited. Over the peer's limit: paced to its
   * rate (pacer.ts; the channel taken after the wait), retried within the deadline (`retries`
   * times for a refusal that names no rate, pacer.ts's RATE_PACED_RETRIES for one that does; 0:
   * neither). Counted and logged once answered.
   */
  private async exchange (out: Outgoing, { env, frame }: Framed, limit: Deadline, retries: number): Promise<Envelope> {
    const counted = this.init.stats.message(env.subject, { direction: 'out', type: env.type, status: 'ok' })
    const sentAt = performance.now()
    const paced: Paced = { peer: out.peer, subject: env.subject, weight: out.weight, bytes: frame.byteLength, until: latestSlot(limit.due, limit.timeoutMs) }
    if (retries > 0) await this.pacer.wait(paced, limit.signal)
    let reply = out.peer === this.localPeer
      ? await untilAborted(this.serveSelf(env), limit.signal, abortReason)
      : await (await this.channel(out.peer, limit.signal)).request(env, frame, limit.signal)
    if (retries > 0) {
      for (let attempt = 0; reply.error?.code === 'RATE001' && await this.pacer.again(paced, reply.error.message, attempt, retries, limit.signal); attempt++) {
        reply = await (await this.channel(out.peer, limit.signal)).request(env, frame, limit.signal)
      }
    }
    const took = performance.now() - sentAt
    if (counted) {
      this.init.stats.observe('request', env.type, took / 1000)
      this.init.stats.messages.add(env, 'out', frame.byteLength, took)
    }
    if (this.debug) this.init.log.debug({ ...messageFields(env), latency_ms: took, error: reply.error?.code }, 'answer received')
    return reply
  }

  /**
   * Direct messages to one peer or a set (multicast): each peer acknowledges once its handler
   * ran. Never throws for one peer's failure; every peer gets its own result.
   */
  async send<Req extends z.ZodType, Res extends z.ZodType> (
    peers: string | readonly string[], command: Command<Req, Res> | string, payload: z.input<Req>, options: RequestOptions = {}
  ): Promise<SendResult[]> {
    const list = typeof peers === 'string' ? [peers] : [...peers]
    return await Promise.all(list.map(async (peer): Promise<SendResult> => {
      try {
        const reply = await this.request(peer, command, payload, { type: 'COMMAND', ...options })
        return { peer, ok: true, reply }
      } catch (err) {
        const e = err instanceof AgentMeshError || err instanceof AbortError ? err : new ConnectionError(String(err), { cause: err })
        return { peer, ok: false, error: e }
      }
    }))
  }

  /**
   * The open channel to a peer, dialling and opening the stream on first use. The dial is shared
   * by every request to that peer meanwhile and is not cut short by one request's deadline: a
   * request that gives up (an election's vote request waits 300 ms) must not abort the dial the
   * next one needs, or on a loaded machine, where a Noise handshake takes longer than that, a
   * peer not yet connected is never reached (50 agents elected no coordinator, bench:scale).
   * `dialTimeoutMs` bounds the dial itself.
   */
  private async channel (peer: string, signal: AbortSignal): Promise<RpcChannel> {
    const open = this.ready.get(peer)
    if (open !== undefined && !open.closed) {
      if (signal.aborted) throw abortReason(signal)
      return open
    }
    const existing = this.outbound.get(peer)
    if (existing !== undefined) {
      const ch = await untilAborted(existing, signal, abortReason)
      if (!ch.closed) return ch
    }
    const dial = new AbortController()
    this.dials.add(dial)
    // Bounded: a peer whose addresses are dead, or that never answers the protocol negotiation,
    // must not hold every later request to it on one pending dial.
    const limit = deadline(this.init.dialTimeoutMs ?? 10_000, dial.signal)
    const opening = this.open(peer, limit.signal).finally(() => { limit.clear(); this.dials.delete(dial) })
    this.outbound.set(peer, opening)
    opening.then(
      ch => { if (this.outbound.get(peer) === opening && !ch.closed) this.ready.set(peer, ch) },
      () => { if (this.outbound.get(peer) === opening) this.outbound.delete(peer) }
    )
    return await untilAborted(opening, signal, abortReason)
  }

  private async open (peer: string, signal: AbortSignal): Promise<RpcChannel> {
    if (!this.started) throw new NotSentError('node is not started')
    let stream: Stream
    try {
      stream = await this.init.libp2p.dialProtocol(peerIdOf(peer), RPC_PROTOCOL, { signal })
    } catch (err) {
      if (signal.aborted) throw abortReason(signal)
      throw new NotSentError(`cannot open ${RPC_PROTOCOL} to ${peer}: ${(err as Error).message}`, { cause: err })
    }
    const channel = new RpcChannel({
      stream,
      remotePeer: peer,
      localPeer: this.localPeer,
      maxMessageBytes: this.init.maxMessageBytes,
      window: this.init.window,
      stats: this.init.stats,
      log: this.init.log,
      onClose: (ch) => {
        if (this.ready.get(peer) === ch) this.ready.delete(peer)
        void this.outbound.get(peer)?.then(cur => { if (cur === ch) this.outbound.delete(peer) }, () => {})
      }
    })
    return channel
  }

  private onInbound (stream: Stream, connection: Connection): void {
    // The gater refuses a flooder's new connections; a stream on one still open is refused here.
    const remotePeer = connection.remotePeer.toString()
    if (this.guard.refusesStream(remotePeer, stream)) return
    const channel = new RpcChannel({
      stream,
      remotePeer,
      localPeer: this.localPeer,
      maxMessageBytes: this.init.maxMessageBytes,
      window: this.init.window,
      stats: this.init.stats,
      log: this.init.log,
      stallTimeoutMs: this.init.stallTimeoutMs,
      serve: async (env, ch, bytes) => await this.during(ch.remotePeer, async () => await this.serve(env, ch, bytes)),
      holdMs: () => this.guard.limiter.holdMs(remotePeer, Date.now()),
      refused: (err, correlationId) => {
        this.init.audit?.record({ kind: 'message.refused', peer: remotePeer, ...(correlationId !== undefined ? { correlationId } : {}), code: err.code, reason: err.message.slice(0, 512) })
      },
      onClose: (ch) => { this.inbound.delete(ch) }
    })
    this.inbound.add(channel)
  }

  /**
   * A request this node makes to itself (a gateway or an MCP endpoint calling its own node's
   * command, a one-node mesh): served by the same checks and handler as a peer's, without a
   * stream. Both envelopes go through the codec, so the handler and the caller see what they would
   * see across the wire (JSON values, not shared objects). Its own node is no stranger to it:
   * neither rate limits nor admission apply.
   */
  private async serveSelf (env: Envelope): Promise<Envelope> {
    if (!this.started) throw new ConnectionError('node is not started')
    const request = decodeEnvelope(encodeEnvelope(env), this.init.maxMessageBytes)
    const answer = await this.serve(request, this.self, 0)
    return decodeEnvelope(encodeEnvelope(answer), this.init.maxMessageBytes)
  }

  private async serve (env: Envelope, channel: Caller, bytes: number): Promise<Envelope> {
    const type = env.type
    const answer = (payload: unknown, error?: AgentMeshError): Envelope => answerTo(this.localPeer, this.init, env, payload, error)
    const self = channel === this.self
    // Limits first: a flood is refused at the least cost, before admission or any schema.
    const weigh = this.handlers.get(env.subject)?.command.weight
    const limited = self ? undefined : this.guard.check(env, channel.remotePeer, bytes, weigh !== undefined ? weigh(env.payload) : 1)
    if (limited !== undefined) return answer(null, limited)
    // A promise while this node's own card exchange with the peer is under way: its first
    // requests may overtake the answer that admits it.
    const admitted = self ? true : this.init.admits?.(channel.remotePeer, env.subject)
    if (admitted !== undefined && admitted !== true && !(await admitted)) {
      this.init.stats.inc('messages_total', { direction: 'in', type, status: 'not_admitted' })
      const refused = new NotAdmittedError(`peer ${channel.remotePeer} is not admitted to this mesh: show a credential in the card exchange first`)
      this.audit('admission.refused', env, channel.remotePeer, refused)
      return this.refuse(env, channel.remotePeer, refused, answer)
    }
    // A signature, where an envelope carries one (the gateway's), must verify: the handler may keep or pass on what it says.
    if (env.signature !== undefined && !hasValidSignature(env)) {
      this.init.stats.inc('messages_total', { direction: 'in', type, status: 'bad_signature' })
      const bad = new BadSignatureError(`envelope ${env.id}: the signature does not verify for its source ${env.source}`)
      this.audit('signature.refused', env, channel.remotePeer, bad)
      return this.refuse(env, channel.remotePeer, bad, answer)
    }
    const entry = this.handlers.get(env.subject)
    // Not refused (refuse() would dead-letter a reliable message here, which its sender retries on COM002).
    if (entry === undefined && this.draining_) {
      this.init.stats.inc('messages_total', { direction: 'in', type, status: 'stopping' })
      return answer(null, new ConnectionError(`"${env.subject}": the node is stopping`))
    }
    if (entry === undefined) {
      this.init.stats.inc('messages_total', { direction: 'in', type, status: 'unknown_command' })
      // Its own commands, not the mesh's internal ones ("$..."): what the caller can ask this agent.
      const unknown = new UnknownCommandError(env.subject, { commands: this.commands().filter(c => !c.startsWith('$')).sort() })
      this.audit('message.refused', env, channel.remotePeer, unknown)
      return this.refuse(env, channel.remotePeer, unknown, answer)
    }
    if (entry.allow !== undefined && !allows(entry.allow, await this.init.grants?.(channel.remotePeer))) {
      this.init.stats.inc('messages_total', { direction: 'in', type, status: 'forbidden' })
      const forbidden = new ForbiddenError(`"${env.subject}" allows ${describeAllow(entry.allow)}; peer ${channel.remotePeer} does not hold them`)
      this.audit('command.forbidden', env, channel.remotePeer, forbidden)
      return this.refuse(env, channel.remotePeer, forbidden, answer)
    }
    // Sealed (`encryptFor`): opened before the schema and the handler; not for this node, or not opening: SEC003.
    const opened = openRequest(this.sealer, env.source, env.subject, env.payload, env.id)
    if (opened !== undefined && !opened.ok) {
      this.init.stats.inc('messages_total', { direction: 'in', type, status: 'sealed' })
      return this.refuse(env, channel.remotePeer, opened.error, answer)
    }
    const clear = opened !== undefined ? { ...env, payload: opened.value } : env
    const req = entry.command.request.safeParse(clear.payload)
    if (!req.success) {
      this.init.stats.inc('messages_total', { direction: 'in', type, status: 'invalid' })
      const invalid = new ValidationError(`request for "${env.subject}": ${describe(req.error)}`)
      this.audit('message.refused', env, channel.remotePeer, invalid)
      return this.refuse(env, channel.remotePeer, invalid, answer)
    }
    const counted = this.init.stats.message(env.subject, { direction: 'in', type, status: 'ok' })
    if (counted) this.init.stats.messages.add(env, 'in', undefined, Date.now() - env.timestamp)
    if (this.debug) this.init.log.debug(messageFields(env), 'request received')
    const reliable = this.receiver !== undefined && isReliable(env) ? this.receiver : undefined
    const run = async (): Promise<Outcome> => {
      const ctx = new Context(clear, channel, opened !== undefined)
      const started = performance.now()
      const traced = startReceiveSpan(`agentmesh handle ${env.subject}`, SpanKind.SERVER, { 'agentmesh.peer_id': this.localPeer, 'agentmesh.remote_peer': env.source, 'agentmesh.subject': env.subject, 'agentmesh.message_id': env.id }, env.headers)
      let failure: AgentMeshError | undefined
      try {
        // The handler runs inside the span: requests it makes continue the caller's trace.
        const result = await inSpan(traced.ctx, async () => await entry.handler(req.data, ctx))
        if (counted) this.init.stats.observe('handle', type, (performance.now() - started) / 1000)
        // The handler was told the caller's deadline passed: its answer is no answer. Said as
        // COM001 so the caller sees a timeout whether this or its own timer comes first. A
        // reliable message keeps its answer: the sender's retry gets it from the dedup window.
        if (ctx.expired && reliable === undefined) {
          failure = new TimeoutError(`"${env.subject}": the caller's deadline passed before the handler answered`)
          return { error: failure }
        }
        const res = entry.command.response.safeParse(result)
        if (!res.success) failure = new ValidationError(`handler of "${env.subject}" answered badly: ${describe(res.error)}`)
        if (failure !== undefined) return { error: failure }
        // Sealed back to the requester here, so an exactly-once receiver's dedup window keeps it sealed too.
        return { payload: opened !== undefined ? sealAnswer(this.sealer, env.source, env.subject, res.data) : res.data }
      } catch (err) {
        failure = err instanceof AgentMeshError ? err : new HandlerError(err instanceof Error ? err.message : String(err), { cause: err })
        return { error: failure }
      } finally {
        endSpan(traced.span, failure)
        ctx.dispose()
      }
    }
    const outcome = reliable !== undefined ? await reliable.serve(env, channel.remotePeer, run) : await run()
    return outcome.error !== undefined ? answer(null, outcome.error) : answer(outcome.payload)
  }

  /** Refused before any handler: answered with the error, and told to reliable delivery when the sender asked for it. */
  private refuse (env: Envelope, peer: string, error: AgentMeshError, answer: (p: unknown, e: AgentMeshError) => Envelope): Envelope {
    if (this.receiver !== undefined && isReliable(env)) this.receiver.refused(env, peer, error)
    return answer(null, error)
  }

  private audit (kind: 'admission.refused' | 'command.forbidden' | 'signature.refused' | 'message.refused', env: Envelope, peer: string, err: AgentMeshError): void {
    this.init.audit?.record({ kind, peer, correlationId: env.id, code: err.code, reason: err.message.slice(0, 512), detail: { command: env.subject } })
  }
}

function selfCaller (peer: string): Caller & { stop: AbortController } {
  // Each of this node's requests to itself whose handler asks for ctx.signal listens to it.
  const stop = sharedController()
  return { remotePeer: peer, closeSignal: stop.signal, stop }
}
