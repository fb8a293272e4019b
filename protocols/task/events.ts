/**
 * What the task protocol reports (the node turns it into metrics and log lines): a message
 * refused, a background failure, and every task status the coordinator publishes.
 */
import type { TypedEventEmitter } from 'main-event'
import type { TaskStatus } from './schemas.js'

export interface TaskServiceEvents {
  /** A protocol message refused (fencing, a report from an agent that does not hold the task, a control command refused). */
  rejected: CustomEvent<{ from: string, message: string, reason: string, correlationId?: string, taskId?: string }>
  /** Something failed in the background. */
  error: CustomEvent<{ error: Error }>
  /** A task status this node published as the coordinator (`tasks.status.<task_id>`). */
  status: CustomEvent<{ status: TaskStatus }>
}

/** Where the parts of the task protocol (scheduler, executor) report: the TaskService they belong to. */
export type TaskEvents = TypedEventEmitter<TaskServiceEvents>
