/**
 * Dead letters as the bindings offer them (REST, and any other binding that wants them): list a
 * page, read one, replay some. The schemas say what each takes and answers, for validation and
 * for the documents generated from them (OpenAPI); the work is the node's DeadLetters
 * (protocols/delivery/dead-letters.ts, docs/dead-letters.md).
 */
import { z } from 'zod'
import { AgentMeshError } from '../../protocols/core/errors.js'
import { Envelope, WireError } from '../../protocols/envelope/schema.js'
import { DEAD_LETTER_REASONS, type DeadLetter } from '../../protocols/delivery/types.js'
import { MAX_LIST_LIMIT, type DeadLetters, type ListPage, type ReplayResult } from '../../protocols/delivery/dead-letters.js'
import { parseInput } from './index.js'

/** No dead letter by that id on this node (HTTP 404). */
export class UnknownDeadLetterError extends AgentMeshError {
  constructor (id: string) {
    super('MSG001', `no dead letter "${id.slice(0, 128)}" on this node (it was replayed and purged, evicted, or never was)`)
    this.name = 'UnknownDeadLetterError'
  }
}

const LetterId = z.string().min(1).max(128)

export const DeadLetterQuery = z.strictObject({
  limit: z.number().int().min(1).max(MAX_LIST_LIMIT).optional().describe('at most this many (default 100)'),
  after: LetterId.optional().describe('the previous page\'s `next`'),
  reason: z.enum(DEAD_LETTER_REASONS).optional(),
  peer: z.string().min(1).max(128).optional().describe('only letters for or from this peer'),
  newest: z.boolean().optional().describe('newest first, instead of oldest first')
})
export type DeadLetterQuery = z.infer<typeof DeadLetterQuery>

export const DeadLetterView = z.strictObject({
  id: z.string(),
  side: z.enum(['sender', 'receiver']),
  envelope: Envelope,
  peer: z.string().optional(),
  topic: z.string().optional(),
  reason: z.enum(DEAD_LETTER_REASONS),
  error: WireError,
  attempts: z.number().int(),
  firstAttemptAt: z.number().int(),
  lastAttemptAt: z.number().int(),
  deadAt: z.number().int(),
  replays: z.number().int().optional()
})

export const DeadLetterPage = z.strictObject({
  letters: z.array(DeadLetterView),
  total: z.number().int().describe('letters held in all, any filter aside'),
  next: z.string().optional().describe('give as `after` for the next page; absent on the last'),
  evicted: z.number().int().describe('letters removed by the bounds since start'),
  enabled: z.boolean()
})
export type DeadLetterPage = ListPage & { evicted: number, enabled: boolean }

export const ReplayInput = z.strictObject({ ids: z.array(LetterId).min(1).max(10_000) })
export const ReplayOutput = z.strictObject({
  results: z.array(z.union([
    z.strictObject({ id: z.string(), status: z.literal('resent') }),
    z.strictObject({ id: z.string(), status: z.literal('failed'), replays: z.number().int(), error: WireError }),
    z.strictObject({ id: z.string(), status: z.enum(['unknown', 'busy']) })
  ]))
})

export function listDeadLetters (dead: DeadLetters, query: unknown = {}): DeadLetterPage {
  const q = parseInput(DeadLetterQuery, query, 'dead letters')
  return { ...dead.list(q), evicted: dead.evictedCount, enabled: dead.enabled }
}

export function deadLetter (dead: DeadLetters, id: string): DeadLetter {
  const letter = dead.get(parseInput(LetterId, id, 'dead letter id'))
  if (letter === undefined) throw new UnknownDeadLetterError(id)
  return letter
}

/** Sends the letters again under their original message ids; each id answers resent, failed, unknown or busy. */
export async function replayDeadLetters (dead: DeadLetters, input: unknown): Promise<{ results: ReplayResult[] }> {
  return { results: await dead.replay(parseInput(ReplayInput, input, 'replay').ids) }
}
