/**
 * What the protocols that act through the coordinator (tasks, resources) need to know of the
 * coordination: who is in office, in which term, and whether a message of some term from some
 * peer is to be admitted (fencing). One interface instead of a closure per question, so a
 * service's dependencies read as one line. `CoordinationService` implements it.
 */
import type { TypedEventTarget } from 'main-event'
import type { Certificate } from './election-types.js'

export interface OfficeChange {
  /** The coordinator in office, or undefined while none is known. */
  leader?: string
  term: number
  /** Whether this node is the one in office. */
  self: boolean
}

export interface OfficeEvents {
  'coordinator:change': CustomEvent<OfficeChange>
}

export interface Office extends TypedEventTarget<OfficeEvents> {
  /** This node is the coordinator in office (elected, holding its lease). */
  readonly inOffice: boolean
  /** The newest term this node has seen. */
  readonly term: number
  /** The coordinator this node follows (or itself), if any. */
  readonly leader: string | undefined
  /** The voters of the current voter set (peer ids). */
  voters: () => string[]
  /** Fencing: a message of `term` from `from` comes from the coordinator this node follows. */
  admits: (term: number, from: string) => boolean
  /**
   * The same judgement with its reason, as the protocols acting through the coordinator report
   * it: an older term is a deposed coordinator (`stale-term`, CRD001), anything else not admitted
   * is a claim this node cannot check (`not-coordinator`, CRD002).
   */
  fencing: (term: number, from: string) => 'ok' | 'stale-term' | 'not-coordinator'
  /** Resolves with the coordinator's peer id once one is in office; rejects when `signal` fires. */
  coordinator: (options?: { signal?: AbortSignal }) => Promise<string>
  /** The certificate of the leader's election this node holds, if any (CoordinationService): the proof of who led a term. */
  certificate?: () => Certificate | undefined
}
