/**
 * One circuit breaker per destination peer (R-REL): after `failures` consecutive transport
 * failures (COM001, COM002) calls to the peer fail fast with CircuitOpenError (COM002) instead of
 * each waiting for its own timeout; after `resetMs` one call goes through (half-open), and its
 * success closes the breaker, its failure opens it for another `resetMs`.
 */
import { CircuitOpenError, type AgentMeshError } from '../core/errors.js'

export interface BreakerPolicy {
  /** Consecutive failures that open a breaker; 0 = no breakers. */
  failures: number
  resetMs: number
}

export type BreakerStateName = 'closed' | 'open' | 'half-open'

/** A destination's breaker as /peers and the live page show it. */
export interface BreakerState {
  peer: string
  state: BreakerStateName
  /** Consecutive failures so far (reset by a success). */
  failures: number
  /** When it opened (ms since the epoch); set while open or half-open. */
  openedAt?: number
  /** When an open breaker lets one call through. */
  halfOpenAt?: number
  /** The last failure's code and message. */
  lastError?: { code: string, message: string }
}

export interface BreakerChange { peer: string, from: BreakerStateName, to: BreakerStateName, state: BreakerState }

/** Destinations remembered at most: a closed breaker with failures is forgotten first, oldest first. */
const MAX_TRACKED = 10_000

/** Whether an error says the peer could not be reached or did not answer (not that it refused). */
export function isTransportFailure (err: unknown): boolean {
  const code = (err as AgentMeshError | undefined)?.code
  return (code === 'COM001' || code === 'COM002') && !(err instanceof CircuitOpenError)
}

export class Breakers {
  private readonly policy: BreakerPolicy
  private readonly states = new Map<string, BreakerState & { probing?: boolean }>()
  private readonly onChange: (c: BreakerChange) => void
  private readonly now: () => number

  constructor (policy: BreakerPolicy, onChange: (c: BreakerChange) => void = () => {}, now: () => number = Date.now) {
    this.policy = policy
    this.onChange = onChange
    this.now = now
  }

  /**
   * Before a call to `peer`: throws CircuitOpenError while its breaker is open, or half-open with
   * its one call already under way. Returns true when this call is the half-open probe.
   */
  check (peer: string): boolean {
    const s = this.states.get(peer)
    if (s === undefined || s.state === 'closed') return false
    const now = this.now()
    if (s.state === 'open' && now >= (s.halfOpenAt ?? 0)) {
      this.move(s, 'half-open')
      s.probing = true
      return true
    }
    const last = s.lastError !== undefined ? ` (last: ${s.lastError.code} ${s.lastError.message.slice(0, 200)})` : ''
    const when = s.state === 'half-open'
      ? 'half-open: one call is already testing it'
      : `it lets one call through at ${new Date(s.halfOpenAt ?? now).toISOString()} (in ${Math.max(0, (s.halfOpenAt ?? now) - now)} ms)`
    throw new CircuitOpenError(
      `circuit to ${peer} open since ${new Date(s.openedAt ?? now).toISOString()} after ${s.failures} consecutive failures${last}; ${when}`)
  }

  /** The peer answered (whatever the answer): the link works. */
  success (peer: string): void {
    const s = this.states.get(peer)
    if (s === undefined) return
    if (s.state !== 'closed') this.move(s, 'closed')
    this.states.delete(peer)
  }

  /** A call ended neither way (the caller gave up): a half-open probe is free to be tried again. */
  release (peer: string): void {
    const s = this.states.get(peer)
    if (s !== undefined) s.probing = false
  }

  failure (peer: string, err: AgentMeshError): void {
    if (this.policy.failures === 0) return
    let s = this.states.get(peer)
    if (s === undefined) {
      if (this.states.size >= MAX_TRACKED) this.forgetOne()
      s = { peer, state: 'closed', failures: 0 }
      this.states.set(peer, s)
    }
    s.failures++
    s.lastError = { code: err.code, message: err.message }
    s.probing = false
    if (s.state === 'half-open' || (s.state === 'closed' && s.failures >= this.policy.failures)) {
      const now = this.now()
      s.openedAt = now
      s.halfOpenAt = now + this.policy.resetMs
      this.move(s, 'open')
    }
  }

  /** Open or half-open breakers, and closed ones counting failures. */
  list (): BreakerState[] {
    return [...this.states.values()].map(({ probing: _, ...s }) => ({ ...s }))
  }

  get (peer: string): BreakerState | undefined {
    const s = this.states.get(peer)
    if (s === undefined) return undefined
    const { probing: _, ...rest } = s
    return { ...rest }
  }

  openCount (): number {
    let n = 0
    for (const s of this.states.values()) if (s.state !== 'closed') n++
    return n
  }

  private move (s: BreakerState, to: BreakerStateName): void {
    const from = s.state
    s.state = to
    if (to === 'closed') { delete s.openedAt; delete s.halfOpenAt }
    this.onChange({ peer: s.peer, from, to, state: { ...s } })
  }

  private forgetOne (): void {
    for (const [peer, s] of this.states) {
      if (s.state === 'closed') { this.states.delete(peer); return }
    }
    const first = this.states.keys().next().value
    if (first !== undefined) this.states.delete(first)
  }
}
