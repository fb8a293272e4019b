/**
 * The task lifecycle (R-TASK) as a transition table, and the dependency checks made at submit.
 *
 *   submitted -> assigned -> running -> completed | failed
 *   running -> paused (pause) -> submitted (resume: queued again, with its checkpoint)
 *   assigned | running -> submitted (its agent was lost: another attempt)
 *   any state that is not final -> cancelled | failed (cancel, deadline, dependency failed)
 */
import { DependencyError } from '../core/errors.js'
import type { TaskState } from './schemas.js'

const NEXT: Record<TaskState, readonly TaskState[]> = {
  submitted: ['assigned', 'failed', 'cancelled'],
  assigned: ['running', 'submitted', 'completed', 'failed', 'cancelled', 'paused'],
  running: ['completed', 'failed', 'cancelled', 'paused', 'submitted'],
  paused: ['submitted', 'failed', 'cancelled'],
  completed: [],
  failed: [],
  cancelled: []
}

export function canMove (from: TaskState, to: TaskState): boolean { return from === to || NEXT[from].includes(to) }

/** Why a control command does not apply in a state, or undefined when it does. */
export function controlRefusal (action: 'pause' | 'resume' | 'cancel', state: TaskState): string | undefined {
  if (NEXT[state].length === 0) return `the task is ${state}`
  if (action === 'pause' && state !== 'running' && state !== 'assigned') return `only a running task can be paused; it is ${state}`
  if (action === 'resume' && state !== 'paused') return `only a paused task can be resumed; it is ${state}`
  return undefined
}

/**
 * Check a batch of new tasks against the known ones: every dependency must be known (or in the
 * batch), and the batch's dependencies must not form a cycle (Kahn's algorithm). Known tasks
 * cannot depend on new ones, so a cycle can only run through the batch.
 */
export function checkDependencies (batch: Array<{ task_id: string, dependencies: string[] }>, known: (id: string) => boolean): void {
  const inBatch = new Map(batch.map(t => [t.task_id, t]))
  for (const t of batch) {
    for (const d of t.dependencies) {
      if (d === t.task_id) throw new DependencyError(`task ${t.task_id} depends on itself`)
      if (!inBatch.has(d) && !known(d)) throw new DependencyError(`task ${t.task_id} depends on unknown task ${d}`)
    }
  }
  const waiting = new Map(batch.map(t => [t.task_id, t.dependencies.filter(d => inBatch.has(d)).length]))
  const ready = [...waiting].filter(([, n]) => n === 0).map(([id]) => id)
  let done = 0
  while (ready.length > 0) {
    const id = ready.pop() as string
    done++
    for (const t of batch) {
      if (!t.dependencies.includes(id)) continue
      const left = (waiting.get(t.task_id) ?? 0) - 1
      waiting.set(t.task_id, left)
      if (left === 0) ready.push(t.task_id)
    }
  }
  if (done < batch.length) {
    const cycle = [...waiting].filter(([, n]) => n > 0).map(([id]) => id)
    throw new DependencyError(`the dependencies form a cycle through ${cycle.join(', ')}`)
  }
}
