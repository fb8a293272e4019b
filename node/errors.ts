/**
 * Errors of agentmesh: one class per condition, each carrying the specification's code (R-ERR)
 * so callers can match on `code` or `instanceof`, and a `cause` when one exists.
 *
 * MSG001 validation error   - the message does not match its schema (fix it, then retry)
 * MSG002 serialization error - the bytes could not be decoded (or are too large to try)
 * COM001 timeout             - no answer within the deadline (retry with backoff)
 * COM002 connection error    - the peer could not be reached or the stream broke (fail over)
 *
 * Coordination (R-COORD), agentmesh's own:
 * CRD001 stale term          - a directive or vote from a term older than one already seen (fenced)
 * CRD002 not the coordinator - the sender is not the coordinator this agent follows, or this node
 *                              is asked to coordinate without being in office (no quorum)
 * CRD003 resource conflict   - the agent cannot take the directive with the resources it holds (re-plan)
 * CRD004 directive failed    - the agent accepted the directive and then failed it (roll back, retry)
 * CRD005 no handler          - the agent has no handler for the directive's action
 *
 * Tasks (R-TASK), agentmesh's own:
 * TSK001 unknown task        - no task with that id (a control command or status for nothing)
 * TSK002 invalid transition  - the command does not apply in the task's state (resume of a completed task)
 * TSK003 dependency error    - a dependency is unknown, failed, or part of a cycle
 * TSK004 not the holder      - a status update from an agent that does not hold the task
 * TSK005 deadline            - the deadline is in the past, or passed before the task finished
 * TSK006 cannot run          - the agent has no handler for the task's type, or not the resources
 * NEG001 too late            - a proposal or answer after the negotiation's deadline
 * NEG002 no agreement        - no acceptable proposal, a walk-away, or the rounds ran out
 * LRN001 content mismatch    - a model update whose bytes do not hash to what was announced
 * LRN002 stale version       - a model version older than (or equal to) the one applied
 * LRN003 unknown model       - the agent asked does not hold that model version
 */
export type ErrorCode = 'MSG001' | 'MSG002' | 'COM001' | 'COM002' | 'CMD001' | 'CMD002' | 'CFG001' | 'CRD001' | 'CRD002' | 'CRD003' | 'CRD004' | 'CRD005' | 'TSK001' | 'TSK002' | 'TSK003' | 'TSK004' | 'TSK005' | 'TSK006' | 'NEG001' | 'NEG002' | 'LRN001' | 'LRN002' | 'LRN003'

export class AgentMeshError extends Error {
  readonly code: ErrorCode
  constructor (code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'AgentMeshError'
  }

  /** The form an error takes on the wire, in an error answer. */
  toJSON (): { code: ErrorCode, name: string, message: string } {
    return { code: this.code, name: this.name, message: this.message }
  }
}

/** MSG001: a message failed its schema, on send or on receipt. */
export class ValidationError extends AgentMeshError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('MSG001', message, options)
    this.name = 'ValidationError'
  }
}

/** MSG002: bytes that are not an envelope of a version we speak. */
export class SerializationError extends AgentMeshError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('MSG002', message, options)
    this.name = 'SerializationError'
  }
}

/** MSG002: a frame or envelope over the size limit; refused before it is decoded. */
export class MessageTooLargeError extends AgentMeshError {
  readonly size: number
  readonly limit: number
  constructor (size: number, limit: number) {
    super('MSG002', `message of ${size} bytes is over the limit of ${limit} bytes`)
    this.name = 'MessageTooLargeError'
    this.size = size
    this.limit = limit
  }
}

/** MSG002: an envelope or frame of a protocol version this node does not speak. */
export class UnsupportedVersionError extends AgentMeshError {
  constructor (version: unknown, supported: readonly unknown[]) {
    super('MSG002', `unsupported version ${String(version)} (this node speaks ${supported.join(', ')})`)
    this.name = 'UnsupportedVersionError'
  }
}

/** COM001: the deadline passed before an answer came. */
export class TimeoutError extends AgentMeshError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('COM001', message, options)
    this.name = 'TimeoutError'
  }
}

/** COM002: the peer could not be dialled, or the stream to it broke. */
export class ConnectionError extends AgentMeshError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('COM002', message, options)
    this.name = 'ConnectionError'
  }
}

/** CMD001: the remote node has no handler for the command. */
export class UnknownCommandError extends AgentMeshError {
  readonly command: string
  constructor (command: string) {
    super('CMD001', `no handler for command "${command}"`)
    this.name = 'UnknownCommandError'
    this.command = command
  }
}

/** CMD002: the remote handler threw; its message travels back, its stack does not. */
export class HandlerError extends AgentMeshError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('CMD002', message, options)
    this.name = 'HandlerError'
  }
}

/** CFG001: the configuration is invalid; the message names the key. */
export class ConfigError extends AgentMeshError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('CFG001', message, options)
    this.name = 'ConfigError'
  }
}

/** CRD001: fenced: the term of the directive or vote is older than the newest this agent has seen. */
export class StaleTermError extends AgentMeshError {
  constructor (message: string) {
    super('CRD001', message)
    this.name = 'StaleTermError'
  }
}

/** CRD002: not the coordinator: the sender does not lead the term, or this node is not in office. */
export class NotCoordinatorError extends AgentMeshError {
  constructor (message: string) {
    super('CRD002', message)
    this.name = 'NotCoordinatorError'
  }
}

/** CRD003: the directive conflicts with resources the agent holds; the coordinator re-plans. */
export class ResourceConflictError extends AgentMeshError {
  constructor (message: string) {
    super('CRD003', message)
    this.name = 'ResourceConflictError'
  }
}

/** CRD004: the directive was accepted and then failed; the coordinator rolls back and retries. */
export class DirectiveFailedError extends AgentMeshError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('CRD004', message, options)
    this.name = 'DirectiveFailedError'
  }
}

/** CRD005: the agent has no handler for the directive's action. */
export class NoDirectiveHandlerError extends AgentMeshError {
  constructor (action: string) {
    super('CRD005', `no handler for directive action "${action}"`)
    this.name = 'NoDirectiveHandlerError'
  }
}

/** TSK001: no task with that id. */
export class UnknownTaskError extends AgentMeshError {
  constructor (message: string) { super('TSK001', message); this.name = 'UnknownTaskError' }
}

/** TSK002: the command does not apply in the task's current state. */
export class InvalidTaskStateError extends AgentMeshError {
  constructor (message: string) { super('TSK002', message); this.name = 'InvalidTaskStateError' }
}

/** TSK003: a dependency is unknown, failed or cancelled, or the dependencies form a cycle. */
export class DependencyError extends AgentMeshError {
  constructor (message: string) { super('TSK003', message); this.name = 'DependencyError' }
}

/** TSK004: a status update for a task from an agent that does not hold it. */
export class NotTaskHolderError extends AgentMeshError {
  constructor (message: string) { super('TSK004', message); this.name = 'NotTaskHolderError' }
}

/** TSK005: the deadline is in the past at submission, or passed before the task finished. */
export class DeadlineError extends AgentMeshError {
  constructor (message: string) { super('TSK005', message); this.name = 'DeadlineError' }
}

/** TSK006: this agent cannot run the task: no handler for its type, or not the free resources. */
export class CannotRunTaskError extends AgentMeshError {
  constructor (message: string) { super('TSK006', message); this.name = 'CannotRunTaskError' }
}

/** NEG001: a proposal or an answer that came after the negotiation's deadline. */
export class LateProposalError extends AgentMeshError {
  constructor (message: string) { super('NEG001', message); this.name = 'LateProposalError' }
}

/** NEG002: the negotiation ended without agreement (no proposal, walk-away, rounds exhausted). */
export class NoAgreementError extends AgentMeshError {
  constructor (message: string) { super('NEG002', message); this.name = 'NoAgreementError' }
}

/** LRN001: a model update's bytes do not match the size or the hash that was announced. */
export class ModelMismatchError extends AgentMeshError {
  constructor (message: string) { super('LRN001', message); this.name = 'ModelMismatchError' }
}

/** LRN002: a model version not newer than the one this agent applied. */
export class StaleModelError extends AgentMeshError {
  constructor (message: string) { super('LRN002', message); this.name = 'StaleModelError' }
}

/** LRN003: the agent asked does not hold that model version. */
export class UnknownModelError extends AgentMeshError {
  constructor (message: string) { super('LRN003', message); this.name = 'UnknownModelError' }
}

/** The request was cancelled by the caller's AbortSignal (not a timeout of ours). */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR'
  constructor (message = 'the operation was aborted') {
    super(message)
    this.name = 'AbortError'
  }
}

const byName: Record<string, (message: string) => AgentMeshError> = {
  ValidationError: m => new ValidationError(m),
  SerializationError: m => new SerializationError(m),
  MessageTooLargeError: m => Object.assign(new SerializationError(m), { name: 'MessageTooLargeError' }),
  UnsupportedVersionError: m => Object.assign(new SerializationError(m), { name: 'UnsupportedVersionError' }),
  TimeoutError: m => new TimeoutError(m),
  ConnectionError: m => new ConnectionError(m),
  HandlerError: m => new HandlerError(m),
  StaleTermError: m => new StaleTermError(m),
  NotCoordinatorError: m => new NotCoordinatorError(m),
  ResourceConflictError: m => new ResourceConflictError(m),
  DirectiveFailedError: m => new DirectiveFailedError(m),
  NoDirectiveHandlerError: m => Object.assign(new NoDirectiveHandlerError(''), { message: m }),
  UnknownTaskError: m => new UnknownTaskError(m),
  InvalidTaskStateError: m => new InvalidTaskStateError(m),
  DependencyError: m => new DependencyError(m),
  NotTaskHolderError: m => new NotTaskHolderError(m),
  DeadlineError: m => new DeadlineError(m),
  CannotRunTaskError: m => new CannotRunTaskError(m),
  LateProposalError: m => new LateProposalError(m),
  NoAgreementError: m => new NoAgreementError(m),
  ModelMismatchError: m => new ModelMismatchError(m),
  StaleModelError: m => new StaleModelError(m),
  UnknownModelError: m => new UnknownModelError(m)
}

/** Rebuild a typed error from an error answer received from a peer. */
export function errorFromWire (wire: { code: string, name?: string, message: string }): AgentMeshError {
  if (wire.code === 'CMD001') {
    const m = /command "(.*)"/.exec(wire.message)
    return new UnknownCommandError(m?.[1] ?? wire.message)
  }
  const make = wire.name != null ? byName[wire.name] : undefined
  if (make != null) return make(wire.message)
  const err = new AgentMeshError(isCode(wire.code) ? wire.code : 'CMD002', wire.message)
  if (wire.name != null) err.name = wire.name
  return err
}

function isCode (c: string): c is ErrorCode {
  return ['MSG001', 'MSG002', 'COM001', 'COM002', 'CMD001', 'CMD002', 'CFG001', 'CRD001', 'CRD002', 'CRD003', 'CRD004', 'CRD005', 'TSK001', 'TSK002', 'TSK003', 'TSK004', 'TSK005', 'TSK006', 'NEG001', 'NEG002', 'LRN001', 'LRN002', 'LRN003'].includes(c)
}
