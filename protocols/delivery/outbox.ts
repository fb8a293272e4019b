/**
 * The sender's outbox (at-least-once and exactly-once): each message is written durably to the
 * store's 'outbox' space before its first attempt and removed once the receiver answered it or it
 * was given up (dead letter). A node that restarts finds there what it had not delivered.
 */
import type { StoreSpace } from '../core/store.js'
import type { Envelope } from '../envelope/index.js'
import type { DeliveryGuarantee } from '../envelope/delivery.js'
import type { RequestOptions } from '../rpc/commands.js'
import { abortReason } from '../rpc/channel.js'

/**
 * Messages held at most. A sender that outpaces its receivers (or whose receivers are down)
 * waits for room rather than filling the disk: `add` resolves once there is a slot, or rejects
 * with the caller's signal. 10,000 is 100 windows of rpc's 100 requests in flight.
 */
export const OUTBOX_MAX_ENTRIES = 10_000

/** One message of the outbox, as stored (JSON): enough to send it again after a restart. */
export interface OutboxEntry {
  /** The envelope id, kept across attempts, restarts and replays. */
  id: string
  peer: string
  subject: string
  payload: unknown
  guarantee: Exclude<DeliveryGuarantee, 'at-most-once'>
  /** exactly-once: the idempotency key (the caller's, or the id). */
  key?: string
  type: NonNullable<RequestOptions['type']>
  headers?: Record<string, string>
  conversationId?: string
  /** Each attempt's deadline. */
  timeoutMs: number
  attempts: number
  firstAttemptAt: number
  lastAttemptAt?: number
  /** From the caller's `ttlMs` (or a published envelope's ttl): no attempt after it; dead-lettered `expired`. */
  expiresAt?: number
  /**
   * A request asked to be signed (the gateway's): its envelope as signed, from which every attempt
   * is built (signed-entry.ts); checked before an entry read back from the store goes out.
   */
  signed?: Envelope
  /** `payload` is sealed for `peer` (`encryptFor`, protocols/sealing/direct.ts): sent as it is, its answer opened. */
  sealed?: true
}

/** The store key: time first (so a restart resends oldest first), then the id. */
function slot (e: OutboxEntry): string {
  return `${String(e.firstAttemptAt).padStart(15, '0')}-${e.id}`
}

export class Outbox {
  private readonly space: StoreSpace<OutboxEntry>
  private readonly max: number
  /** Callers waiting for room, oldest first. */
  private readonly waiting: Array<() => void> = []
  /**
   * The slots taken: every entry on disk, and those whose write is under way (so two callers
   * cannot take the last one). Counted here, not as the store's count plus the writes under way:
   * a store whose count includes a write before its promise resolves (MemoryStore, or LMDB once
   * committed) counted those twice, and a caller that queued on that overcount was never woken,
   * as nothing leaves the outbox when its writes finish: half of a memory outbox's room was lost
   * under a burst, its callers waiting for good (test/protocols/delivery/outbox-bound.test.ts).
   */
  private readonly held: Set<string>

  constructor (space: StoreSpace<OutboxEntry>, max = OUTBOX_MAX_ENTRIES) {
    this.space = space
    this.max = max
    this.held = new Set([...space.entries()].map(([k]) => k))
  }

  get size (): number { return this.space.count() }

  /** Every message held, oldest first. */
  entries (): OutboxEntry[] { return [...this.space.entries()].map(([, e]) => e) }

  /** Keep `e` durably, waiting for room while the outbox is full (backpressure). */
  async add (e: OutboxEntry, signal?: AbortSignal): Promise<void> {
    while (this.held.size >= this.max) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.waiting.indexOf(wake)
          if (i >= 0) this.waiting.splice(i, 1)
          reject(abortReason(signal as AbortSignal))
        }
        const wake = (): void => { signal?.removeEventListener('abort', onAbort); resolve() }
        if (signal?.aborted === true) { reject(abortReason(signal)); return }
        signal?.addEventListener('abort', onAbort, { once: true })
        this.waiting.push(wake)
      })
    }
    const k = slot(e)
    this.held.add(k)
    try {
      await this.space.put(k, e)
    } catch (err) {
      // Not kept: its slot is free again for the next caller waiting.
      if (this.held.delete(k)) this.waiting.shift()?.()
      throw err
    }
  }

  /** The attempts so far, kept so that a restart does not start the count again. */
  async update (e: OutboxEntry): Promise<void> {
    const k = slot(e)
    if (this.held.has(k)) await this.space.put(k, e)
  }

  async remove (e: OutboxEntry): Promise<void> {
    const k = slot(e)
    if (!this.held.delete(k)) return
    try {
      await this.space.remove(k)
    } finally {
      this.waiting.shift()?.()
    }
  }
}
