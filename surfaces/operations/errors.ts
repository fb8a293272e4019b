/**
 * How an operation's failure reaches a client that is not a libp2p node: the spec's code in a
 * JSON body, and for HTTP a status that fits it. Anything that is not an AgentMeshError is an
 * internal error (500) whose message is not shown: it may name files or peers the client has no
 * business knowing.
 */
import { AgentMeshError, type ErrorCode } from '../../protocols/core/errors.js'
import type { ErrorBody } from './schemas.js'

const STATUS: Record<ErrorCode, number> = {
  MSG001: 400,
  MSG002: 400,
  COM001: 504,
  COM002: 502,
  CMD001: 404,
  CMD002: 502,
  CFG001: 400,
  CRD001: 409,
  CRD002: 503,
  CRD003: 409,
  CRD004: 502,
  CRD005: 404,
  TSK001: 404,
  TSK002: 409,
  TSK003: 422,
  TSK004: 403,
  TSK005: 422,
  TSK006: 422,
  TSK007: 403,
  NEG001: 409,
  NEG002: 409,
  LRN001: 422,
  LRN002: 409,
  LRN003: 404,
  SEC001: 401,
  SEC002: 403,
  SEC003: 403,
  SEC004: 401,
  SEC005: 409,
  STO001: 503,
  RATE001: 429
}

/** Errors that name something this node does not know (their codes say why in the mesh's terms). */
const NOT_FOUND = new Set(['UnknownAgentError', 'UnknownDeadLetterError'])

/** The HTTP status for an error (500 for anything that is not one of ours). */
export function httpStatusOf (err: unknown): number {
  if (err instanceof AgentMeshError) return NOT_FOUND.has(err.name) ? 404 : STATUS[err.code] ?? 500
  if ((err as Error)?.name === 'AbortError') return 499
  return 500
}

/** The body a client gets for an error; an internal error says only that it is one. */
export function errorBody (err: unknown): ErrorBody {
  if (err instanceof AgentMeshError) return { error: { code: err.code, name: err.name, message: err.message } }
  return { error: { code: 'INTERNAL', name: 'InternalError', message: 'internal error (see the node\'s log)' } }
}
