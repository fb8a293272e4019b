/**
 * Who may act on a task and who may read it (R-SEC, issue 13): rights come from what the mesh
 * recorded, never from what the asker says. `peer` is always the authenticated peer of the rpc
 * stream (Noise), and the submitter is the one recorded when the task was submitted; nothing
 * a sender fills in is taken for either. Pure: the scheduler asks, and refuses with TSK007.
 *
 * - Control (pause, resume, cancel): the task's submitter, or the coordinator in office (a
 *   control made on the coordinator's own node), or a task operator (below). Anyone else could
 *   stop other agents' work.
 * - Status and result: the submitter and the coordinator, the agent holding the current attempt
 *   (it runs the task and makes the result), the voters (they hold every task record as a
 *   replica, result included: refusing them would protect nothing), and a task operator. A
 *   stranger learns nothing of the task beyond "not yours", not even its state.
 * - A task operator holds TASK_OPERATOR among its grants (closed mesh: its credential, signed by
 *   the owner; open mesh: its card's claim): a front door of the mesh such as an MCP endpoint
 *   (`agentmesh mcp`), through which a user follows and cancels a task another front door
 *   started. The task's state is the mesh's, not the door's (issue 42).
 */
import type { TaskRecord } from './schemas.js'

export interface TaskParties {
  /** The coordinator in office (the node answering, when it answers at all). */
  coordinator: string
  /** The voters of the current voter set: they hold the replicated records. */
  voters: readonly string[]
  /** Whether `peer` holds TASK_OPERATOR (none: nobody does). */
  operator?: (peer: string) => boolean
}

/** The capability that grants reading and controlling every task of the mesh. */
export const TASK_OPERATOR = 'tasks:operate'

/** Who `peer` is to the task, or undefined when it is none of its parties. */
export function partyTo (r: TaskRecord, peer: string, parties: TaskParties): 'submitter' | 'coordinator' | 'agent' | 'voter' | 'operator' | undefined {
  if (peer === r.submitter) return 'submitter'
  if (peer === parties.coordinator) return 'coordinator'
  if (r.status.agent !== undefined && peer === r.status.agent) return 'agent'
  if (parties.voters.includes(peer)) return 'voter'
  if (parties.operator?.(peer) === true) return 'operator'
  return undefined
}

/** Pause, resume and cancel: only the submitter, the coordinator in office or a task operator. */
export function mayControl (r: TaskRecord, peer: string, parties: TaskParties): boolean {
  const party = partyTo(r, peer, parties)
  return party === 'submitter' || party === 'coordinator' || party === 'operator'
}

/** The task's status with its result: any of its parties. */
export function mayRead (r: TaskRecord, peer: string, parties: TaskParties): boolean {
  return partyTo(r, peer, parties) !== undefined
}

/**
 * What the mesh knows an agent may run tasks with (docs/security.md, "Tasks"): in a closed mesh
 * the capabilities its credential grants, checked against the owner's signature (never what the
 * agent says of itself); in an open one the capabilities its card claims.
 */
export interface TaskGrants {
  /** Closed mesh: running a task of type T needs `task:T` (or `task:*`) among the credential's capabilities. */
  closed: boolean
  /** The capabilities `peer` holds and, closed, its credential's serial; undefined when none is known (closed: no valid credential held). */
  held: (peer: string) => { capabilities: readonly string[], serial?: string } | undefined
}

/** The capability a closed mesh's credential names to grant running tasks of `type`. */
export const taskGrant = (type: string): string => `task:${type}`
/** The capability that grants running tasks of every type. */
export const ANY_TASK = 'task:*'

/**
 * Why `held` may not run `spec`, or undefined when it may: a closed mesh wants the type granted
 * (`task:<type>` or `task:*`), and any mesh every capability the spec requires.
 */
export function runRefusal (
  spec: { type: string, capabilities?: readonly string[] | undefined }, held: { capabilities: readonly string[] } | undefined, closed: boolean
): string | undefined {
  if (closed && held === undefined) return 'no valid credential of this mesh is held for it'
  const caps = held?.capabilities ?? []
  if (closed && !caps.includes(taskGrant(spec.type)) && !caps.includes(ANY_TASK)) return `its credential does not grant ${taskGrant(spec.type)}`
  const missing = (spec.capabilities ?? []).filter(c => !caps.includes(c))
  return missing.length > 0 ? `it lacks ${missing.join(', ')}` : undefined
}
