/**
 * The coordinator's states and transitions, exactly as the specification's protocol states list
 * them. A transition not in the table is a bug in the caller and throws.
 */
export type CoordinatorState = 'idle' | 'coordinating' | 'executing' | 'monitoring' | 'error'

export type CoordinatorTrigger =
  | 'system_state_change' | 'plan_ready' | 'coordination_failure' | 'execution_started'
  | 'completion' | 'adjustment_needed' | 'recovery_complete' | 'retry_coordination'

const TRANSITIONS: Record<CoordinatorState, Partial<Record<CoordinatorTrigger, CoordinatorState>>> = {
  idle: { system_state_change: 'coordinating' },
  coordinating: { plan_ready: 'executing', coordination_failure: 'error' },
  executing: { execution_started: 'monitoring' },
  monitoring: { completion: 'idle', adjustment_needed: 'coordinating' },
  error: { recovery_complete: 'idle', retry_coordination: 'coordinating' }
}

export class CoordinatorStateMachine {
  private current: CoordinatorState = 'idle'
  private readonly history: Array<{ from: CoordinatorState, trigger: CoordinatorTrigger, to: CoordinatorState, at: number }> = []

  constructor (private readonly onChange?: (from: CoordinatorState, to: CoordinatorState, trigger: CoordinatorTrigger) => void) {}

  get state (): CoordinatorState { return this.current }

  can (trigger: CoordinatorTrigger): boolean { return TRANSITIONS[this.current][trigger] !== undefined }

  fire (trigger: CoordinatorTrigger): CoordinatorState {
    const to = TRANSITIONS[this.current][trigger]
    if (to === undefined) throw new Error(`coordinator: no transition from "${this.current}" on "${trigger}"`)
    const from = this.current
    this.current = to
    this.history.push({ from, trigger, to, at: Date.now() })
    if (this.history.length > 100) this.history.shift()
    this.onChange?.(from, to, trigger)
    return to
  }

  /** Back to idle from wherever a round was cut short (the node lost office), by legal steps. */
  reset (): void {
    if (this.current === 'idle') return
    if (this.current === 'coordinating') this.fire('coordination_failure')
    if (this.current === 'executing') this.fire('execution_started')
    if (this.current === 'monitoring') this.fire('completion')
    if (this.current === 'error') this.fire('recovery_complete')
  }

  recent (): ReadonlyArray<{ from: CoordinatorState, trigger: CoordinatorTrigger, to: CoordinatorState, at: number }> { return this.history }
}
