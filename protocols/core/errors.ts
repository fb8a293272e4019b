/**
 * Errors of agentmesh: one class per condition, each carrying the specification's code (R-ERR)
 * so callers can match on `code` or `instanceof`, and a `cause` when one exists.
 *
 * `CODES` is the one list of codes: the `ErrorCode` type, `isErrorCode` and the wire decoding
 * are derived from it and from `WIRE_CLASSES`, so a code or a class is added in one place.
 */
import { nearest } from './edit-distance.js'

/** Every code with what it means and what the caller should do about it. */
export const CODES = {
  MSG001: 'validation error: the message does not match its schema (fix it, then retry)',
  MSG002: 'serialization error: the bytes could not be decoded, or are too large to try',
  COM001: 'timeout: no answer within the deadline (retry with backoff)',
  COM002: 'connection error: the peer could not be reached or the stream broke (fail over)',
  CMD001: 'unknown command: the remote node has no handler for it',
  CMD002: 'handler error: the remote handler failed; its message travels back',
  CFG001: 'configuration error: the message names the key',
  CRD001: 'stale term: a directive or vote from a term older than one already seen (fenced)',
  CRD002: 'not the coordinator: the sender does not lead the term, or this node is not in office',
  CRD003: 'resource conflict: the agent cannot take it with the resources it holds (re-plan)',
  CRD004: 'directive failed: accepted, then failed (roll back, retry)',
  CRD005: 'no handler: the agent has no handler for the directive\'s action',
  TSK001: 'unknown task: no task with that id',
  TSK002: 'invalid transition: the command does not apply in the task\'s state',
  TSK003: 'dependency error: a dependency is unknown, failed, or part of a cycle',
  TSK004: 'not the holder: a status update from an agent that does not hold the task',
  TSK005: 'deadline: in the past, or passed before the task finished',
  TSK006: 'cannot run: no handler for the task\'s type, or not the resources',
  TSK007: 'not allowed: the asking peer is no party to the task (only its submitter, the coordinator or a task operator control it; they, its agent and the voters read it)',
  NEG001: 'too late: a proposal or answer after the negotiation\'s deadline',
  NEG002: 'no agreement: no acceptable proposal, a walk-away, or the rounds ran out',
  LRN001: 'content mismatch: a model update whose bytes do not hash to what was announced',
  LRN002: 'stale version: a model version older than (or equal to) the one applied',
  LRN003: 'unknown model: the agent asked does not hold that model version',
  SEC001: 'not admitted: no credential, or one that is malformed, expired, revoked, for another mesh or another peer',
  SEC002: 'forbidden: the caller is admitted, but its credential lacks a role or capability the command requires',
  SEC003: 'cannot open: a sealed payload not addressed to this node, or sealed with a key it does not hold (expired or never given)',
  SEC004: 'bad signature: a signed envelope whose signature does not verify for its source, or one that must be signed and is not',
  SEC005: 'stale: a revocation list older than the one the node holds (an older list never replaces a newer one)',
  STO001: 'store error: the data directory cannot be opened, is corrupt, or a durable write failed (the message names the path; nothing is deleted)',
  RATE001: 'rate limited: the peer sent more requests or bytes per second than this node allows it (back off, then retry; a peer that keeps on is disconnected for a cool-down)'
} as const

export type ErrorCode = keyof typeof CODES

export function isErrorCode (code: string): code is ErrorCode {
  return Object.hasOwn(CODES, code)
}

export interface ErrorOptions { cause?: unknown }

export class AgentMeshError extends Error {
  readonly code: ErrorCode
  constructor (code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    // Each subclass is named after itself, so `name` survives the wire (see `errorFromWire`).
    this.name = new.target.name
  }

  /** The form an error takes on the wire, in an error answer. */
  toJSON (): { code: ErrorCode, name: string, message: string } {
    return { code: this.code, name: this.name, message: this.message }
  }
}

/** MSG001: a message failed its schema, on send or on receipt. */
export class ValidationError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('MSG001', message, options) }
}

/** MSG002: bytes that are not an envelope of a version we speak. */
export class SerializationError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('MSG002', message, options) }
}

/** MSG002: a frame or envelope over the size limit; refused before it is decoded. */
export class MessageTooLargeError extends AgentMeshError {
  readonly size?: number
  readonly limit?: number
  constructor (size: number, limit: number, options?: ErrorOptions) {
    super('MSG002', `message of ${size} bytes is over the limit of ${limit} bytes`, options)
    this.size = size
    this.limit = limit
  }
}

/** MSG002: an envelope or frame of a protocol version this node does not speak. */
export class UnsupportedVersionError extends AgentMeshError {
  constructor (version: unknown, supported: readonly unknown[], options?: ErrorOptions) {
    super('MSG002', `unsupported version ${String(version)} (this node speaks ${supported.join(', ')})`, options)
  }
}

/** COM001: the deadline passed before an answer came. */
export class TimeoutError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('COM001', message, options) }
}

/** COM002: the peer could not be dialled, or the stream to it broke. */
export class ConnectionError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('COM002', message, options) }
}

/**
 * COM002, known not to have reached the peer: no connection or stream could be opened to it (or
 * this node is not started). A caller whose request changes state there (a task's run command)
 * knows nothing was taken; after a plain ConnectionError it cannot tell.
 */
export class NotSentError extends ConnectionError {
  // Named as the class it refines: callers and peers (dead letters, answers on the wire) know COM002 as ConnectionError.
  constructor (message: string, options?: ErrorOptions) { super(message, options); this.name = 'ConnectionError' }
}

/**
 * CMD001: the remote node has no handler for the command. `commands`, the node's own (not the
 * mesh's internal `$` ones), are named in the message, the nearest first as a guess: a caller
 * who mistyped one, or asked an agent that runs others, sees what to ask instead (issue 44).
 */
export class UnknownCommandError extends AgentMeshError {
  readonly command: string
  constructor (command: string, options?: ErrorOptions & { commands?: string[] }) {
    super('CMD001', `no handler for command "${command}"${options?.commands !== undefined ? theirCommands(command, options.commands) : ''}`, options)
    this.command = command
  }
}

/** At most this many command names in a CMD001 message; an agent with more says how many more. */
const COMMANDS_LISTED = 30

function theirCommands (command: string, commands: string[]): string {
  if (commands.length === 0) return '; this agent answers no commands'
  const guess = nearest(command, commands, 1)
  const listed = commands.slice(0, COMMANDS_LISTED).join(', ')
  const more = commands.length > COMMANDS_LISTED ? ` and ${commands.length - COMMANDS_LISTED} more` : ''
  return `; this agent's commands: ${listed}${more}${guess.length > 0 ? ` (did you mean ${guess[0]}?)` : ''}`
}

/** CMD002: the remote handler threw; its message travels back, its stack does not. */
export class HandlerError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('CMD002', message, options) }
}

/** CFG001: the configuration is invalid; the message names the key. */
export class ConfigError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('CFG001', message, options) }
}

/** CRD001: fenced: the term of the directive or vote is older than the newest this agent has seen. */
export class StaleTermError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('CRD001', message, options) }
}

/** CRD002: not the coordinator: the sender does not lead the term, or this node is not in office. */
export class NotCoordinatorError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('CRD002', message, options) }
}

/** CRD003: the directive conflicts with resources the agent holds; the coordinator re-plans. */
export class ResourceConflictError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('CRD003', message, options) }
}

/** CRD004: the directive was accepted and then failed; the coordinator rolls back and retries. */
export class DirectiveFailedError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('CRD004', message, options) }
}

/** CRD005: the agent has no handler for the directive's action. */
export class NoDirectiveHandlerError extends AgentMeshError {
  constructor (action: string, options?: ErrorOptions) {
    super('CRD005', `no handler for directive action "${action}"`, options)
  }
}

/** TSK001: no task with that id. */
export class UnknownTaskError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('TSK001', message, options) }
}

/** TSK002: the command does not apply in the task's current state. */
export class InvalidTaskStateError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('TSK002', message, options) }
}

/** TSK003: a dependency is unknown, failed or cancelled, or the dependencies form a cycle. */
export class DependencyError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('TSK003', message, options) }
}

/** TSK004: a status update for a task from an agent that does not hold it. */
export class NotTaskHolderError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('TSK004', message, options) }
}

/** TSK005: the deadline is in the past at submission, or passed before the task finished. */
export class DeadlineError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('TSK005', message, options) }
}

/** TSK006: this agent cannot run the task: no handler for its type, or not the free resources. */
export class CannotRunTaskError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('TSK006', message, options) }
}

/**
 * TSK007: the authenticated peer asking is no party to the task: a control from none of its
 * submitter, the coordinator or a task operator, or a query from none of them, its agent or the voters.
 */
export class TaskAccessError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('TSK007', message, options) }
}

/**
 * MSG002: more input to a task than its record may hold (TASK_MESSAGES_MAX messages or
 * TASK_MESSAGES_MAX_BYTES in all, protocols/task/schemas.ts): every status and replica carries
 * them, so they are bounded like any message; the task's earlier messages stay as they were.
 */
export class TaskInputFullError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('MSG002', message, options) }
}

/** NEG001: a proposal or an answer that came after the negotiation's deadline. */
export class LateProposalError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('NEG001', message, options) }
}

/** NEG002: the negotiation ended without agreement (no proposal, walk-away, rounds exhausted). */
export class NoAgreementError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('NEG002', message, options) }
}

/** LRN001: a model update's bytes do not match the size or the hash that was announced. */
export class ModelMismatchError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('LRN001', message, options) }
}

/** LRN002: a model version not newer than the one this agent applied. */
export class StaleModelError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('LRN002', message, options) }
}

/** LRN003: the agent asked does not hold that model version. */
export class UnknownModelError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('LRN003', message, options) }
}

/** SEC001: a peer without a valid credential of this mesh (see protocols/admission). */
export class NotAdmittedError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('SEC001', message, options) }
}

/** SEC002: the caller's credential lacks a role or capability the command allows (`handle(cmd, h, { allow })`). */
export class ForbiddenError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('SEC002', message, options) }
}

/** SEC003: a sealed payload this node cannot open (not a recipient, or the key is gone). */
export class SealedError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('SEC003', message, options) }
}

/** SEC004: an envelope signature that does not verify for its source (or is missing where required). */
export class BadSignatureError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('SEC004', message, options) }
}

/** SEC005: a revocation list handed to a node that already holds a newer one. */
export class StaleRevocationsError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('SEC005', message, options) }
}

/**
 * RATE001: the request was refused unrun because its sender is over its per-peer limit
 * (protocols/rpc/limits.ts). The caller's rpc client retries it a few times after a short delay.
 */
export class RateLimitedError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('RATE001', message, options) }
}

/**
 * COM002, failing fast: the destination's circuit breaker is open after consecutive failures
 * (protocols/delivery); the message says since when and when it lets a call through again.
 */
export class CircuitOpenError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('COM002', message, options) }
}

/** MSG001: an exactly-once message whose idempotency key was seen with another body (refused and dead-lettered). */
export class IdempotencyConflictError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('MSG001', message, options) }
}

/** STO001: the node's store could not be opened or written; the message names the path. Data is never deleted to recover. */
export class StoreError extends AgentMeshError {
  constructor (message: string, options?: ErrorOptions) { super('STO001', message, options) }
}

/**
 * STO001, refining StoreError: the data directory is another node's, in use by a running process
 * or bound to another identity. Nothing is wrong with the store; the command names a directory
 * it cannot use as asked, so the CLI exits as for a usage error (2), as for a port in use.
 */
export class DataDirTakenError extends StoreError {
  // Named as the class it refines: callers and peers know STO001 as StoreError.
  constructor (message: string, options?: ErrorOptions) { super(message, options); this.name = 'StoreError' }
}

/** The request was cancelled by the caller's AbortSignal (not a timeout of ours). */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR'
  constructor (message = 'the operation was aborted', options?: ErrorOptions) {
    super(message, options)
    this.name = 'AbortError'
  }
}

/** The classes an error answer may name; a new class is added here and nowhere else. */
const WIRE_CLASSES = [
  ValidationError, SerializationError, MessageTooLargeError, UnsupportedVersionError, TimeoutError,
  ConnectionError, UnknownCommandError, HandlerError, ConfigError, StaleTermError,
  NotCoordinatorError, ResourceConflictError, DirectiveFailedError, NoDirectiveHandlerError,
  UnknownTaskError, InvalidTaskStateError, DependencyError, NotTaskHolderError, DeadlineError,
  CannotRunTaskError, TaskAccessError, TaskInputFullError, LateProposalError, NoAgreementError, ModelMismatchError,
  StaleModelError, UnknownModelError, NotAdmittedError, ForbiddenError, SealedError, BadSignatureError,
  StaleRevocationsError, RateLimitedError, CircuitOpenError, IdempotencyConflictError, StoreError
] as const

type WireClass = abstract new (...args: any[]) => AgentMeshError

/** Each class by name, with its code (read off an instance: the code is fixed per class). */
const byName = new Map<string, { Class: WireClass, code: ErrorCode }>(WIRE_CLASSES.map(c => {
  const sample = new (c as new (...args: unknown[]) => AgentMeshError)('', [])
  return [c.name, { Class: c, code: sample.code }]
}))

/** The class of each code that only one class has, for answers that carry a code and no name (a task control's refusal). */
const byCode = new Map<ErrorCode, { Class: WireClass, code: ErrorCode }>()
for (const [, k] of byName) byCode.set(k.code, byCode.has(k.code) ? { Class: AgentMeshError, code: k.code } : k)

/**
 * Rebuild a typed error from an error answer received from a peer: an instance of the class the
 * answer names (so `instanceof` works across nodes) with the peer's message; with no name, the
 * one class of its code, where only one has it (a gateway client saw TSK001 as UnknownTaskError
 * on one route and AgentMeshError on another). A name this node does not know, or one whose
 * class has another code than the answer's, gives a plain AgentMeshError with the answer's code
 * (CMD002 for an unknown code) and name.
 */
export function errorFromWire (wire: { code: string, name?: string, message: string }): AgentMeshError {
  const code: ErrorCode = isErrorCode(wire.code) ? wire.code : 'CMD002'
  const known = wire.name !== undefined ? byName.get(wire.name) : byCode.get(code)
  // Runs only AgentMeshError's constructor with the named class's prototype: the class's own
  // constructor wants its arguments (a size, a command), which the wire carries in the message.
  const err: AgentMeshError = known !== undefined && known.code === code
    ? Reflect.construct(AgentMeshError, [code, wire.message], known.Class)
    : new AgentMeshError(code, wire.message)
  if (wire.name !== undefined) err.name = wire.name
  if (err instanceof UnknownCommandError) {
    (err as { command: string }).command = /command "(.*)"/.exec(wire.message)?.[1] ?? wire.message
  }
  return err
}
