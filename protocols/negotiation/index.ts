/**
 * Negotiation on one node (R-NEG) over its own stream protocol, /agentmesh/negotiate/1.0.0:
 * contract net (the initiator's side in contract-net.ts) and bilateral rounds (bilateral.ts).
 * Participants register per subject: `onCallForProposals(subject, ...)` to bid and to carry out
 * an award, `onNegotiation(subject, respond)` to answer offers.
 */
import { randomUUID } from 'node:crypto'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import type { z } from 'zod'
import { AgentMeshError, LateProposalError, NoAgreementError, NotAdmittedError } from '../core/errors.js'
import { dialFramed, FramedStream } from '../rpc/framed-stream.js'
import { runContractNet, type ContractNetOptions, type ContractNetResult } from './contract-net.js'
import { converse, type Agreement, type Respond } from './bilateral.js'
import { Decision, NEGOTIATE_PROTOCOL, Opening, type Cfp } from './schemas.js'
import { deadline as within } from '../core/deadline.js'
import type { AuditSink } from '../core/audit.js'
import { DEFAULT_CONVERSATIONS_PER_PEER, DEFAULT_CONVERSATIONS_PER_SEC } from './constants.js'
import { StreamGuard, streamLimitsOf, type StreamLimits, type StreamMetrics } from './stream-guard.js'

export * from './schemas.js'
export type { ContractNetOptions, ContractNetResult } from './contract-net.js'
export type { Agreement, Respond, Response } from './bilateral.js'
export { StreamGuard, STREAM_LIMITS_SERVICE, type StreamLimits, type StreamLimitSettings, type StreamMetrics } from './stream-guard.js'

export interface Participant<P> {
  /** A proposal for the call, or undefined to refuse it. Throwing refuses it with the message. */
  propose: (cfp: Cfp, ctx: { from: string, signal: AbortSignal }) => P | undefined | Promise<P | undefined>
  /** The award: do what was proposed (or commit to it); what it returns goes back in the confirmation. */
  award?: (cfp: Cfp, proposal: P, ctx: { from: string }) => unknown
}

export interface NegotiationEvent { kind: 'contract_net' | 'bilateral', role: 'initiator' | 'participant', outcome: string, negotiationId: string, peer: string, subject: string }

export interface NegotiationInit {
  libp2p: Libp2p
  maxMessageBytes: number
  /** Admission (closed mesh): a stream from a peer not admitted is closed unread. */
  admits?: (peer: string) => boolean
  /**
   * Per-peer limits of new conversations. Without them, the libp2p node's STREAM_LIMITS_SERVICE
   * (node/libp2p.ts builds it from the config), else the defaults (constants.ts).
   */
  limits?: StreamLimits
  /** Counts refused conversations (stream_rate_limited_total). */
  stats?: StreamMetrics
  /** Records limit.exceeded, at most once a second per peer. */
  audit?: AuditSink
}

export interface NegotiationEvents {
  /** A negotiation this node took part in ended (awarded, agreed, rejected, late, NEG002...). */
  negotiation: CustomEvent<NegotiationEvent>
  /** A conversation failed for a reason other than the protocol's own (a bug, a broken stream). */
  error: CustomEvent<{ error: Error }>
}

export class NegotiationService extends TypedEventEmitter<NegotiationEvents> {
  private readonly init: NegotiationInit
  private readonly participants = new Map<string, Participant<unknown>>()
  private readonly responders = new Map<string, { respond: Respond<unknown>, terms?: z.ZodType }>()
  private readonly open = new Set<Stream>()
  private running = false
  readonly guard: StreamGuard

  constructor (init: NegotiationInit) {
    super()
    this.init = init
    const fallback = { perSec: DEFAULT_CONVERSATIONS_PER_SEC, concurrent: DEFAULT_CONVERSATIONS_PER_PEER }
    const limits = init.limits ?? streamLimitsOf(init.libp2p.services, 'negotiation', fallback)
    this.guard = new StreamGuard({ protocol: 'negotiation', limits, ...(init.admits !== undefined ? { admits: init.admits } : {}), ...(init.stats !== undefined ? { stats: init.stats } : {}), ...(init.audit !== undefined ? { audit: init.audit } : {}) })
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    await this.init.libp2p.handle(NEGOTIATE_PROTOCOL, (stream, connection) => { void this.inbound(stream, connection) }, {
      maxInboundStreams: 16,
      maxOutboundStreams: 256
    })
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.init.libp2p.unhandle(NEGOTIATE_PROTOCOL).catch(() => {})
    for (const s of this.open) s.abort(new Error('node stopping'))
    this.open.clear()
  }

  onCallForProposals<P> (subject: string, participant: Participant<P>): () => void {
    this.participants.set(subject, participant as Participant<unknown>)
    return () => { if (this.participants.get(subject) === participant) this.participants.delete(subject) }
  }

  onNegotiation<T> (subject: string, respond: Respond<T>, options: { terms?: z.ZodType<T> } = {}): () => void {
    const entry = { respond: respond as Respond<unknown>, ...(options.terms !== undefined ? { terms: options.terms } : {}) }
    this.responders.set(subject, entry)
    return () => { if (this.responders.get(subject) === entry) this.responders.delete(subject) }
  }

  /** Run a contract net among `candidates`; resolves with the confirmed winner or rejects NEG002. */
  async contractNet<P> (o: ContractNetOptions<P>): Promise<ContractNetResult<P>> {
    try {
      const r = await runContractNet(async (peer, signal) => await this.dial(peer, signal), o)
      this.event('contract_net', 'initiator', 'awarded', r.negotiationId, r.winner?.peer ?? '', o.subject)
      return r
    } catch (err) {
      const id = ((err as { result?: ContractNetResult<P> }).result)?.negotiationId ?? ''
      this.event('contract_net', 'initiator', err instanceof AgentMeshError ? err.code : 'error', id, '', o.subject)
      throw err
    }
  }

  /** Negotiate with one peer, opening with `terms`; resolves with the agreement or rejects NEG002. */
  async negotiate<T> (o: {
    peer: string, subject: string, terms: T, respond: Respond<T>, maxRounds?: number, deadlineMs?: number, schema?: z.ZodType<T>, signal?: AbortSignal
  }): Promise<Agreement<T>> {
    const negotiationId = randomUUID()
    const maxRounds = o.maxRounds ?? 10
    const deadline = Date.now() + (o.deadlineMs ?? 10_000)
    const dialBy = within(Math.max(1, deadline - Date.now()), o.signal)
    const fs = await this.dial(o.peer, dialBy.signal).finally(dialBy.clear)
    try {
      await fs.writeJson({
        type: 'offer', negotiation_id: negotiationId, round: 1, terms: o.terms, subject: o.subject, max_rounds: maxRounds, deadline: new Date(deadline).toISOString()
      })
      const a = await converse(fs, {
        negotiationId, maxRounds, deadline, respond: o.respond, ...(o.schema !== undefined ? { terms: o.schema } : {}), ours: { terms: o.terms, round: 1 }
      })
      this.event('bilateral', 'initiator', 'agreed', negotiationId, o.peer, o.subject)
      return a
    } catch (err) {
      this.event('bilateral', 'initiator', err instanceof AgentMeshError ? err.code : 'error', negotiationId, o.peer, o.subject)
      throw err
    } finally { this.open.delete(fs.stream) }
  }

  private async dial (peer: string, signal: AbortSignal): Promise<FramedStream> {
    return await dialFramed(this.init.libp2p, peer, NEGOTIATE_PROTOCOL, this.init.maxMessageBytes, this.open, signal)
  }

  private async inbound (stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    if (this.guard.unadmitted(from)) { stream.abort(new NotAdmittedError(`${from} is not admitted to this mesh`)); return }
    // The conversation has no error frame before its opening is read (refuse and walk-away need
    // its id): a peer over its limits has the stream aborted unread.
    const admitted = this.guard.admit(from)
    if (!admitted.ok) { stream.abort(admitted.error); return }
    this.open.add(stream)
    const fs = new FramedStream(stream, this.init.maxMessageBytes)
    let opening: z.output<typeof Opening> | undefined
    try {
      opening = await fs.readJson(Opening, AbortSignal.timeout(10_000))
      if (opening.type === 'cfp') await this.participate(fs, from, opening)
      else await this.answerOffers(fs, from, opening)
    } catch (err) {
      // A malformed opening, a walk-away, a vanished peer: this conversation ends, no other.
      const code = err instanceof AgentMeshError ? err.code : 'error'
      if (opening === undefined) this.event('bilateral', 'participant', code, '', from, '')
      if (!(err instanceof AgentMeshError)) this.safeDispatchEvent('error', { detail: { error: err as Error } })
      fs.abort(err as Error)
    } finally { this.open.delete(stream); admitted.release() }
  }

  private async participate (fs: FramedStream, from: string, cfp: Cfp): Promise<void> {
    const p = this.participants.get(cfp.subject)
    const id = cfp.negotiation_id
    const done = (outcome: string): void => { this.event('contract_net', 'participant', outcome, id, from, cfp.subject) }
    if (p === undefined) {
      await fs.writeJson({ type: 'refuse', negotiation_id: id, reason: `no participant for "${cfp.subject}" here` })
      await fs.close(); done('refused'); return
    }
    let proposal: unknown
    try {
      proposal = await p.propose(cfp, { from, signal: AbortSignal.timeout(Math.max(1, Date.parse(cfp.reply_by) - Date.now() + 1_000)) })
    } catch (err) {
      await fs.writeJson({ type: 'refuse', negotiation_id: id, reason: (err as Error).message.slice(0, 1024) })
      await fs.close(); done('refused'); return
    }
    if (proposal === undefined) {
      await fs.writeJson({ type: 'refuse', negotiation_id: id, reason: 'declined' })
      await fs.close(); done('refused'); return
    }
    await fs.writeJson({ type: 'propose', negotiation_id: id, proposal })
    const decision = await fs.readJson(Decision, AbortSignal.timeout(30_000))
    if (decision.type === 'reject-proposal') {
      await fs.close()
      done(decision.code === new LateProposalError('').code ? 'late' : 'rejected')
      return
    }
    try {
      const result = await p.award?.(cfp, proposal, { from })
      await fs.writeJson({ type: 'confirm', negotiation_id: id, ...(result !== undefined ? { result } : {}) })
      done('awarded')
    } catch (err) {
      await fs.writeJson({ type: 'failure', negotiation_id: id, reason: (err as Error).message.slice(0, 1024) })
      done('failed')
    }
    await fs.close()
  }

  private async answerOffers (fs: FramedStream, from: string, offer: z.output<typeof Opening> & { type: 'offer' }): Promise<void> {
    const subject = offer.subject ?? ''
    const r = this.responders.get(subject)
    const id = offer.negotiation_id
    if (r === undefined || offer.round !== 1) {
      await fs.writeJson({ type: 'walk-away', negotiation_id: id, round: offer.round, reason: r === undefined ? `no one negotiates "${subject}" here` : 'a conversation opens with round 1' })
      await fs.close()
      this.event('bilateral', 'participant', 'NEG002', id, from, subject)
      return
    }
    const deadline = offer.deadline !== undefined ? Date.parse(offer.deadline) : Date.now() + 10_000
    try {
      await converse(fs, {
        negotiationId: id,
        maxRounds: offer.max_rounds ?? 10,
        deadline,
        respond: r.respond,
        ...(r.terms !== undefined ? { terms: r.terms } : {}),
        theirs: { terms: offer.terms, round: 1 }
      })
      this.event('bilateral', 'participant', 'agreed', id, from, subject)
    } catch (err) {
      this.event('bilateral', 'participant', err instanceof NoAgreementError ? 'NEG002' : err instanceof AgentMeshError ? err.code : 'error', id, from, subject)
    }
  }

  private event (kind: NegotiationEvent['kind'], role: NegotiationEvent['role'], outcome: string, negotiationId: string, peer: string, subject: string): void {
    this.safeDispatchEvent('negotiation', { detail: { kind, role, outcome, negotiationId, peer, subject } })
  }
}
