/**
 * The learning protocol's messages (R-LEARN). `learning.model_update` announces a model version
 * by its size and content hash; the bytes travel over /agentmesh/learning/1.0.0 in chunks,
 * because gossip drops messages over a few MiB. Each agent answers on `learning.metrics`.
 */
import { z } from 'zod'

export const LEARNING_PROTOCOL = '/agentmesh/learning/1.0.0'
export const MODEL_UPDATE_TOPIC = 'learning.model_update'
export const LEARNING_METRICS_TOPIC = 'learning.metrics'

const ModelId = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/)
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex SHA-256')

export const ModelUpdate = z.strictObject({
  type: z.literal('learning.model_update'),
  model_id: ModelId,
  version: z.number().int().min(0),
  size: z.number().int().nonnegative(),
  sha256: Sha256,
  /** The agent that announced it and serves the bytes. */
  source: z.string().max(128),
  timestamp: z.iso.datetime({ offset: true }),
  metadata: z.record(z.string().max(128), z.unknown()).default({})
})
export type ModelUpdate = z.infer<typeof ModelUpdate>

/** An agent's answer to an update, and its learning figures. */
export const LearningMetrics = z.strictObject({
  model_id: ModelId,
  version: z.number().int().min(0),
  agent: z.string().max(128),
  status: z.enum(['applied', 'stale', 'hash_mismatch', 'failed']),
  bytes: z.number().int().nonnegative(),
  duration_ms: z.number().nonnegative(),
  timestamp: z.iso.datetime({ offset: true }),
  error: z.strictObject({ code: z.string().max(16), message: z.string().max(4096) }).optional(),
  /** What the apply handler returned as figures (accuracy, loss, ...). */
  metrics: z.record(z.string().max(128), z.number()).default({})
})
export type LearningMetrics = z.infer<typeof LearningMetrics>

/** The fetch: a request frame, then a header frame, then the bytes in chunk frames. */
export const FetchRequest = z.strictObject({ model_id: ModelId, version: z.number().int().min(0) })
export const FetchHeader = z.discriminatedUnion('ok', [
  z.strictObject({ ok: z.literal(true), size: z.number().int().nonnegative(), sha256: Sha256 }),
  z.strictObject({ ok: z.literal(false), code: z.string().max(16), message: z.string().max(1024) })
])
