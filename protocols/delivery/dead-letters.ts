/**
 * Dead letters (issue 14): what reliable delivery gave up on, kept in the store's 'dead-letters'
 * space with its envelope, error, attempts and timestamps, so a person can list, read, replay or
 * purge it (the debug endpoint's /dead-letters, `agentmesh dead-letters`). Bounded by count and
 * by age; what the bounds evict is counted, never dropped silently.
 *
 * Ids start with the time of death (zero-padded ms), then a counter and a random tail: the
 * store lists keys in string order, so a listing is oldest first and the age sweep is one range.
 */
import { randomBytes } from 'node:crypto'
import { TypedEventEmitter } from 'main-event'
import type { Logger } from 'pino'
import type { PrivateKey } from '@libp2p/interface'
import type { AuditSink } from '../core/audit.js'
import { signValue, valueSignatureVerifies } from '../envelope/signature.js'
import type { StoreOp, StoreSpace } from '../core/store.js'
import type { Startable } from '../core/service.js'
import { AgentMeshError, BadSignatureError, ConnectionError, ValidationError } from '../core/errors.js'
import { DEAD_LETTER_REASONS, type DeadLetter, type DeadLetterReason, type DeadLetterSink } from './types.js'
import { DEFAULT_DEAD_LETTERS_MAX, DEFAULT_DEAD_LETTERS_MAX_AGE_MS } from './constants.js'

/** Re-sends a dead letter's envelope under its original id (the delivery service's `resend`). */
export type Resend = (letter: DeadLetter) => Promise<void>

export interface DeadLettersInit {
  /** The store's 'dead-letters' space. */
  space: StoreSpace<DeadLetter>
  /** Off: a message given up on is logged and counted only (R-CONF's dead letter switch). */
  enabled?: boolean
  maxEntries?: number
  maxAgeMs?: number
  log: Logger
  /** How replay re-sends; replay fails per id (COM002) until one is given (`resendWith`). */
  resend?: Resend
  now?: () => number
  /**
   * The storing node (its peer id and identity key): each letter is signed when kept, and
   * replay sends only letters whose signature verifies (SEC004 otherwise, audited). Without
   * one (tests, a store nothing else writes to), letters are neither signed nor checked.
   */
  signer?: { peer: string, privateKey: PrivateKey }
  /** Where a refused replay is audited (`signature.refused`). */
  audit?: AuditSink
}

/** Written before a letter's canonical JSON: a letter's signature is no envelope's or vote's, nor the reverse. */
export const DEAD_LETTER_SIGNATURE_DOMAIN = 'agentmesh dead letter v1\n'

/** What a letter's signature covers: every field but the signature and the replay count (which replay updates). */
function signedPart (letter: DeadLetter): Omit<DeadLetter, 'signature' | 'replays'> {
  const { signature: _signature, replays: _replays, ...rest } = letter
  return rest
}

export interface DeadLettersEvents {
  /** A message given up on: `kept` false when dead letters are off (logged and counted only). */
  dead: CustomEvent<{ reason: DeadLetterReason, kept: boolean, letter?: DeadLetter }>
  /** Letters removed by a bound: the oldest past maxEntries, or those older than maxAgeMs. */
  evicted: CustomEvent<{ count: number, bound: 'entries' | 'age' }>
}

export interface ListOptions {
  /** At most this many (default 100, at most 1,000). */
  limit?: number
  /** Only letters after this id (the previous page's `next`). */
  after?: string
  reason?: DeadLetterReason
  /** Only letters for or from this peer. */
  peer?: string
  /** Newest first (the live page's last few), instead of oldest first. */
  newest?: boolean
}

export interface ListPage {
  letters: DeadLetter[]
  /** Letters held in all (any filter aside). */
  total: number
  /** Give as `after` for the next page; absent on the last one. */
  next?: string
}

export type ReplayResult =
  | { id: string, status: 'resent' }
  | { id: string, status: 'failed', replays: number, error: { code: string, name: string, message: string } }
  | { id: string, status: 'unknown' }
  /** Being replayed by another call right now: not sent twice at once. */
  | { id: string, status: 'busy' }

export const DEFAULT_LIST_LIMIT = 100
export const MAX_LIST_LIMIT = 1_000
/** The age sweep runs this often at most (a tenth of maxAgeMs when shorter): age is a coarse bound. */
const MAX_SWEEP_INTERVAL_MS = 60_000
/** Digits of the time part of an id: ms since the epoch fit in 13 until the year 2286; 15 leaves room. */
const TIME_DIGITS = 15

/** The smallest id of a letter that died at `ms` (every later letter sorts after it). */
export function idFloor (ms: number): string {
  return String(Math.max(0, Math.floor(ms))).padStart(TIME_DIGITS, '0')
}

export class DeadLetters extends TypedEventEmitter<DeadLettersEvents> implements DeadLetterSink, Startable {
  private readonly space: StoreSpace<DeadLetter>
  private readonly log: Logger
  private readonly now: () => number
  readonly enabled: boolean
  readonly maxEntries: number
  readonly maxAgeMs: number
  private resend?: Resend
  private seq = 0
  private timer?: ReturnType<typeof setInterval>
  /** Writes run one after another: eviction reads the count that the write before it left. */
  private queue: Promise<unknown> = Promise.resolve()
  private readonly replaying = new Set<string>()
  private readonly signer?: { peer: string, privateKey: PrivateKey }
  private readonly audit?: AuditSink
  /** Letters evicted by a bound since this node started. */
  evictedCount = 0

  constructor (init: DeadLettersInit) {
    super()
    this.space = init.space
    this.log = init.log
    this.now = init.now ?? Date.now
    this.enabled = init.enabled ?? true
    this.maxEntries = init.maxEntries ?? DEFAULT_DEAD_LETTERS_MAX
    this.maxAgeMs = init.maxAgeMs ?? DEFAULT_DEAD_LETTERS_MAX_AGE_MS
    if (init.resend !== undefined) this.resend = init.resend
    if (init.signer !== undefined) this.signer = init.signer
    if (init.audit !== undefined) this.audit = init.audit
  }

  /** Whether a letter is as this node kept it (always true for a DeadLetters without a signer). */
  authentic (letter: DeadLetter): boolean {
    if (this.signer === undefined) return true
    return letter.signature !== undefined && valueSignatureVerifies(this.signer.peer, DEAD_LETTER_SIGNATURE_DOMAIN, signedPart(letter), letter.signature)
  }

  /** Who re-sends on replay: the delivery service (its `resend` keeps the original id and idempotency key). */
  resendWith (resend: Resend): void { this.resend = resend }

  start (): void {
    if (this.timer !== undefined) return
    const every = Math.min(MAX_SWEEP_INTERVAL_MS, Math.max(100, Math.floor(this.maxAgeMs / 10)))
    this.timer = setInterval(() => { this.sweep().catch((err) => { this.log.warn({ error: (err as Error).message }, 'dead letters: age sweep failed') }) }, every)
    this.timer.unref?.()
    // Letters that aged out while the node was down go at once.
    this.sweep().catch((err) => { this.log.warn({ error: (err as Error).message }, 'dead letters: age sweep failed') })
  }

  /** Stops the sweep and waits for writes under way (the node closes the store after its services). */
  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.queue.catch(() => {})
  }

  /** Letters held now. */
  get count (): number { return this.space.count() }

  /** Keeps a message given up on (durably, before it resolves); undefined when dead letters are off. */
  async add (fields: Omit<DeadLetter, 'id' | 'deadAt'>): Promise<DeadLetter | undefined> {
    const { reason, peer, topic, envelope, error } = fields
    const log = { reason, peer, topic, message_id: envelope.id, subject: envelope.subject, error: error.code }
    if (!this.enabled) {
      this.log.warn({ ...log, attempts: fields.attempts }, 'message given up on (dead letters are off: not kept)')
      this.safeDispatchEvent('dead', { detail: { reason: fields.reason, kept: false } })
      return undefined
    }
    const deadAt = this.now()
    const unsigned: DeadLetter = { ...fields, id: this.newId(deadAt), deadAt }
    // About 50 µs of Ed25519 per letter kept: letters are what failed, not the traffic.
    const letter: DeadLetter = this.signer === undefined
      ? unsigned
      : { ...unsigned, signature: signValue(DEAD_LETTER_SIGNATURE_DOMAIN, signedPart(unsigned), this.signer.privateKey) }
    await this.serial(async () => {
      // The oldest go in the same commit as the new one: the bound holds at every moment.
      const over = this.space.count() + 1 - this.maxEntries
      const evict = over > 0 ? [...this.space.entries({ limit: over })].map(([key]) => key) : []
      await this.space.batch([{ key: letter.id, value: letter }, ...evict.map(key => ({ key, remove: true as const }))])
      this.evicted(evict.length, 'entries')
    })
    this.log.info({ ...log, dead_letter: letter.id, attempts: fields.attempts }, 'message kept as a dead letter')
    this.safeDispatchEvent('dead', { detail: { reason: letter.reason, kept: true, letter } })
    return letter
  }

  get (id: string): DeadLetter | undefined { return this.space.get(id) }

  list (options: ListOptions = {}): ListPage {
    if (options.reason !== undefined && !(DEAD_LETTER_REASONS as readonly string[]).includes(options.reason)) {
      throw new ValidationError(`unknown reason "${options.reason}" (one of ${DEAD_LETTER_REASONS.join(', ')})`)
    }
    const limit = Math.min(Math.max(Math.floor(options.limit ?? DEFAULT_LIST_LIMIT), 1), MAX_LIST_LIMIT)
    const newest = options.newest === true
    const range = options.after === undefined ? {} : newest ? { end: options.after } : { start: `${options.after}\u0000` }
    const letters: DeadLetter[] = []
    let more = false
    for (const [, letter] of this.space.entries({ ...range, reverse: newest })) {
      if (options.reason !== undefined && letter.reason !== options.reason) continue
      if (options.peer !== undefined && letter.peer !== options.peer && letter.envelope.source !== options.peer) continue
      if (letters.length === limit) { more = true; break }
      letters.push(letter)
    }
    const last = letters.at(-1)
    return { letters, total: this.space.count(), ...(more && last !== undefined ? { next: last.id } : {}) }
  }

  /** Removes the letters named, or every letter when none are; resolves with those removed and those unknown. */
  async purge (ids?: readonly string[]): Promise<{ purged: string[], unknown: string[] }> {
    return await this.serial(async () => {
      if (ids === undefined) {
        const purged = [...this.space.entries()].map(([key]) => key)
        await this.space.clear()
        return { purged, unknown: [] }
      }
      const purged = [...new Set(ids)].filter(id => this.space.has(id))
      await this.space.batch(purged.map(key => ({ key, remove: true as const })))
      return { purged, unknown: ids.filter(id => !purged.includes(id)) }
    })
  }

  /**
   * Re-sends each letter, one after another (oldest first as given), through `resend`; one
   * resent is removed; one whose resend fails stays, with `replays` counted, and its error returned.
   */
  async replay (ids: readonly string[]): Promise<ReplayResult[]> {
    const results: ReplayResult[] = []
    for (const id of [...new Set(ids)]) {
      const letter = this.space.get(id)
      if (letter === undefined) { results.push({ id, status: 'unknown' }); continue }
      if (this.replaying.has(id)) { results.push({ id, status: 'busy' }); continue }
      if (!this.authentic(letter)) { results.push(this.refuse(letter)); continue }
      this.replaying.add(id)
      try {
        if (this.resend === undefined) throw new ConnectionError('no delivery service on this node to resend through')
        await this.resend(letter)
        await this.serial(async () => { await this.space.remove(id) })
        this.log.info({ dead_letter: id, message_id: letter.envelope.id }, 'dead letter replayed')
        results.push({ id, status: 'resent' })
      } catch (err) {
        const replays = (letter.replays ?? 0) + 1
        const error = wireError(err)
        await this.serial(async () => { if (this.space.has(id)) await this.space.put(id, { ...letter, replays }) })
        this.log.warn({ dead_letter: id, message_id: letter.envelope.id, error: error.message }, 'dead letter replay failed')
        results.push({ id, status: 'failed', replays, error })
      } finally {
        this.replaying.delete(id)
      }
    }
    return results
  }

  /** A letter whose signature does not verify: not sent, left where it is (for a person to look at, then purge), audited. */
  private refuse (letter: DeadLetter): ReplayResult {
    const why = letter.signature === undefined ? 'carries no signature' : 'has a signature that does not verify'
    const err = new BadSignatureError(`dead letter ${letter.id} ${why}: altered in the store, or not kept by this node; not sent (look at it, then purge it)`)
    const detail = { deadLetter: letter.id, subject: letter.envelope.subject.slice(0, 100) }
    this.audit?.record({ kind: 'signature.refused', correlationId: letter.envelope.id, code: err.code, reason: err.message.slice(0, 200), detail })
    this.log.warn({ dead_letter: letter.id, message_id: letter.envelope.id, error: err.code }, 'dead letter refused on replay: its signature does not verify')
    return { id: letter.id, status: 'failed', replays: letter.replays ?? 0, error: err.toJSON() }
  }

  /** Removes the letters older than maxAgeMs, counted; the timer calls it, tests may too. */
  async sweep (): Promise<number> {
    return await this.serial(async () => {
      const old = [...this.space.entries({ end: idFloor(this.now() - this.maxAgeMs) })].map(([key]) => key)
      const ops: Array<StoreOp<DeadLetter>> = old.map(key => ({ key, remove: true }))
      await this.space.batch(ops)
      this.evicted(old.length, 'age')
      return old.length
    })
  }

  private evicted (count: number, bound: 'entries' | 'age'): void {
    if (count === 0) return
    this.evictedCount += count
    this.log.info({ count, bound, max_entries: this.maxEntries, max_age_ms: this.maxAgeMs }, 'dead letters evicted')
    this.safeDispatchEvent('evicted', { detail: { count, bound } })
  }

  private newId (ms: number): string {
    this.seq = (this.seq + 1) % 1_000_000
    return `${idFloor(ms)}-${String(this.seq).padStart(6, '0')}-${randomBytes(3).toString('hex')}`
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return await run
  }
}

function wireError (err: unknown): { code: string, name: string, message: string } {
  if (err instanceof AgentMeshError) return err.toJSON()
  const e = err as Error
  return { code: typeof (e as any)?.code === 'string' ? (e as any).code : 'COM002', name: e?.name ?? 'Error', message: e?.message ?? String(err) }
}
