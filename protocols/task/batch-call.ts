/**
 * Calls to one peer made within one turn of the event loop, sent as one request: the
 * coordinator's run commands to an agent (RunManyCommand) and an agent's reports to the
 * coordinator (ReportManyCommand). A pipeline of 100 tasks placed on ten agents was 100 run
 * requests and 100 report requests, each with its own envelope, frame, encryption and socket
 * write on both sides; batched it is ten of each (bench:tasks, docs/benchmarks.md).
 *
 * Each item is answered on its own (`itemAnswer`): one refused item (no handler, not the
 * holder) does not fail the others. A peer that does not know the batched command (an older
 * version) or a batch too large for one message is sent the items one by one instead.
 */
import { z } from 'zod'
import { AgentMeshError, MessageTooLargeError, UnknownCommandError, errorFromWire } from '../core/errors.js'

/** Items per request at most (the command schemas allow as many). */
export const BATCH_MAX = 100

/** A batched command's weight against the sender's rate limit: its items, as many as the payload's array holds (1 to BATCH_MAX). */
export const itemsWeight = (key: string) => (payload: unknown): number => {
  const items = (payload as Record<string, unknown> | null)?.[key]
  return Array.isArray(items) ? Math.min(BATCH_MAX, Math.max(1, items.length)) : 1
}

const ItemError = z.strictObject({
  ok: z.literal(false),
  error: z.strictObject({ code: z.string().max(16), name: z.string().max(64).optional(), message: z.string().max(4096) })
})

/** One item's answer in a batched command's response: its own answer, or the error it would have been answered with. */
export const itemAnswer = <T extends z.ZodType>(answer: T) => z.union([z.strictObject({ ok: z.literal(true), answer }), ItemError])

/** Run `fn` for one item of a batch received, its error caught into the item's answer. */
export function answerItem<A> (fn: () => A): { ok: true, answer: A } | z.infer<typeof ItemError> {
  try {
    return { ok: true, answer: fn() }
  } catch (err) {
    const e = err instanceof AgentMeshError ? err : new AgentMeshError('CMD002', err instanceof Error ? err.message : String(err))
    return { ok: false, error: { code: e.code, name: e.name.slice(0, 64), message: e.message.slice(0, 4096) } }
  }
}

interface Waiting<I, A> { item: I, resolve: (a: A) => void, reject: (e: Error) => void }

export interface BatchCallInit<I, A> {
  /** Send the items as one request; the answers in the same order. */
  many: (peer: string, items: I[]) => Promise<Array<{ ok: true, answer: A } | { ok: false, error: { code: string, name?: string, message: string } }>>
  /** Send one item alone (a peer without the batched command, or a batch too large). */
  one: (peer: string, item: I) => Promise<A>
}

export class BatchCall<I, A> {
  private readonly queued = new Map<string, Array<Waiting<I, A>>>()
  private flushing?: ReturnType<typeof setImmediate>
  /** Peers that answered the batched command with CMD001: sent one by one from then on. */
  private readonly unbatched = new Set<string>()

  constructor (private readonly init: BatchCallInit<I, A>) {}

  /** Queue an item for `peer`; it leaves with the others queued for that peer in this turn. */
  async call (peer: string, item: I): Promise<A> {
    if (this.unbatched.has(peer)) return await this.init.one(peer, item)
    return await new Promise<A>((resolve, reject) => {
      const q = this.queued.get(peer)
      if (q === undefined) this.queued.set(peer, [{ item, resolve, reject }])
      else q.push({ item, resolve, reject })
      this.flushing ??= setImmediate(() => { this.flush() })
    })
  }

  /** Fail every call not sent yet (the node stops). */
  stop (reason: Error): void {
    if (this.flushing !== undefined) clearImmediate(this.flushing)
    this.flushing = undefined
    for (const q of this.queued.values()) for (const w of q) w.reject(reason)
    this.queued.clear()
  }

  private flush (): void {
    this.flushing = undefined
    const all = [...this.queued]
    this.queued.clear()
    for (const [peer, q] of all) {
      for (let i = 0; i < q.length; i += BATCH_MAX) void this.send(peer, q.slice(i, i + BATCH_MAX))
    }
  }

  private async send (peer: string, batch: Array<Waiting<I, A>>): Promise<void> {
    if (batch.length === 1) { this.alone(peer, batch[0]); return }
    let answers
    try {
      answers = await this.init.many(peer, batch.map(w => w.item))
    } catch (err) {
      if (err instanceof UnknownCommandError) this.unbatched.add(peer)
      if (err instanceof UnknownCommandError || err instanceof MessageTooLargeError) { for (const w of batch) this.alone(peer, w); return }
      for (const w of batch) w.reject(err as Error)
      return
    }
    batch.forEach((w, i) => {
      const a = answers[i]
      if (a === undefined) w.reject(new AgentMeshError('MSG001', `the batch's answer has ${answers.length} items for ${batch.length}`))
      else if (a.ok) w.resolve(a.answer)
      else w.reject(errorFromWire(a.error))
    })
  }

  private alone (peer: string, w: Waiting<I, A>): void { this.init.one(peer, w.item).then(w.resolve, w.reject) }
}
