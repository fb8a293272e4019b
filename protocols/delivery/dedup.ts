/**
 * The receiver's dedup window (exactly-once): (authenticated sender, idempotency key) -> the body's
 * hash and the first answer, written durably BEFORE that answer leaves, so a duplicate gets the
 * same answer without the handler running again, also after this node restarts. Remembered for
 * `windowMs`, and at most `maxEntries` keys (oldest evicted first; both counted).
 *
 * Only answers are remembered, not failures: a handler that threw did not do its work (or not
 * all of it), and a replay of its dead letter must run it again.
 */
import { createHash } from 'node:crypto'
import type { StoreSpace } from '../core/store.js'
import { evictWindow } from './window.js'
import { IdempotencyConflictError } from '../core/errors.js'
import type { Envelope } from '../envelope/index.js'
import { HEADER_IDEMPOTENCY_KEY } from '../envelope/delivery.js'
import type { Outcome } from '../rpc/receiver.js'

export interface DedupPolicy {
  windowMs: number
  maxEntries: number
}

interface DedupRecord {
  /** sha256 of the subject and the payload (JSON), hex. */
  hash: string
  payload: unknown
  at: number
}

export type DedupResult = 'first' | 'duplicate' | 'conflict'

function sha256 (s: string): string { return createHash('sha256').update(s).digest('hex') }

/** The body a key is bound to: the command and its payload as sent (the sender stores and resends the same JSON). */
export function bodyHash (env: Envelope): string {
  return sha256(`${env.subject}\n${JSON.stringify(env.payload) ?? ''}`)
}

export class DedupWindow {
  private readonly space: StoreSpace<DedupRecord>
  private readonly policy: DedupPolicy
  /** Store key -> time answered, oldest first (insertion order), for eviction without a scan. */
  private readonly order = new Map<string, number>()
  /** Messages whose handler runs now: a concurrent duplicate waits for the same outcome. */
  private readonly running = new Map<string, { hash: string, outcome: Promise<Outcome> }>()
  private readonly onEvict: (reason: 'age' | 'count', n: number) => void

  constructor (space: StoreSpace<DedupRecord>, policy: DedupPolicy, onEvict: (reason: 'age' | 'count', n: number) => void = () => {}) {
    this.space = space
    this.policy = policy
    this.onEvict = onEvict
  }

  /** Read what the store kept (at start): the order of eviction is rebuilt from the times. */
  load (): void {
    this.order.clear()
    const all = [...this.space.entries()].map(([k, r]) => [k, r.at] as const).sort((a, b) => a[1] - b[1])
    for (const [k, at] of all) this.order.set(k, at)
  }

  get size (): number { return this.order.size }

  /**
   * Run `run` for a message once per (peer, key): the first runs it, a duplicate gets its answer,
   * the same key with another body gets IdempotencyConflictError (MSG001). `seen` says which.
   */
  async serve (env: Envelope, peer: string, run: () => Promise<Outcome>, seen: (r: DedupResult) => void): Promise<Outcome> {
    // Hashed: a key is the caller's string (up to a header's 8 KiB), the store's keys are short.
    const key = `${peer}/${sha256(env.headers[HEADER_IDEMPOTENCY_KEY] ?? env.id).slice(0, 40)}`
    const hash = bodyHash(env)
    const conflict = (): Outcome => {
      seen('conflict')
      return { error: new IdempotencyConflictError(`idempotency key "${(env.headers[HEADER_IDEMPOTENCY_KEY] ?? env.id).slice(0, 200)}" of ${peer} was first used with another body (command or payload)`) }
    }
    const running = this.running.get(key)
    if (running !== undefined) {
      if (running.hash !== hash) return conflict()
      seen('duplicate')
      return await running.outcome
    }
    const kept = this.space.get(key)
    if (kept !== undefined && Date.now() - kept.at < this.policy.windowMs) {
      if (kept.hash !== hash) return conflict()
      seen('duplicate')
      return { payload: kept.payload }
    }
    seen('first')
    const outcome = (async (): Promise<Outcome> => {
      const out = await run()
      if (out.error === undefined) {
        const at = Date.now()
        await this.space.put(key, { hash, payload: out.payload, at })
        this.order.delete(key)
        this.order.set(key, at)
        await this.evict()
      }
      return out
    })()
    this.running.set(key, { hash, outcome })
    try {
      return await outcome
    } finally {
      this.running.delete(key)
    }
  }

  /** Forget keys past the window, then the oldest past maxEntries. */
  async evict (now = Date.now()): Promise<void> {
    await evictWindow(this.order, this.space, this.policy, now, this.onEvict)
  }
}
