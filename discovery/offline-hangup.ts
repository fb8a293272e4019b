/**
 * Connections follow the failure detector: a connection to an agent the member view has held
 * offline for OFFLINE_HANGUP_AFTER_MS is closed. It is dead (a host lost, a link cut: nothing else
 * notices, since libp2p's own pings run only every few minutes, node/libp2p.ts) or worth
 * nothing; if the agent lives after all it refutes and the dialer connects again.
 *
 * Not at once: under load agents are declared offline and refute seconds later, and closing
 * their connections at each such declaration fed the load (50 agents in a few processes, local
 * preset: a0's map never held all 50 in 240 s with an immediate hang-up, 16 s without).
 */
import type { Startable } from '../protocols/core/service.js'
import type { MemberChange } from './member-table.js'

/** How long an agent stays offline before its connections are closed. */
export const OFFLINE_HANGUP_AFTER_MS = 30_000

export interface OfflineHangUpInit {
  /** Where offline declarations come from (the member view). */
  changes: { addEventListener: (type: 'member:change', listener: (e: CustomEvent<MemberChange>) => void) => void, removeEventListener: (type: 'member:change', listener: (e: CustomEvent<MemberChange>) => void) => void }
  /** The member's state now, as the member view holds it. */
  stateOf: (peerId: string) => string | undefined
  hangUp: (peerId: string) => void
  afterMs?: number
}

export class OfflineHangUp implements Startable {
  private readonly init: OfflineHangUpInit
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>()
  private running = false

  private readonly onChange = (e: CustomEvent<MemberChange>): void => {
    const { peerId, to } = e.detail
    if (!this.running || to !== 'offline' || this.timers.has(peerId)) return
    const timer = setTimeout(() => {
      this.timers.delete(peerId)
      if (this.running && this.init.stateOf(peerId) === 'offline') this.init.hangUp(peerId)
    }, this.init.afterMs ?? OFFLINE_HANGUP_AFTER_MS)
    timer.unref?.()
    this.timers.set(peerId, timer)
  }

  constructor (init: OfflineHangUpInit) { this.init = init }

  start (): void {
    if (this.running) return
    this.running = true
    this.init.changes.addEventListener('member:change', this.onChange)
  }

  stop (): void {
    this.running = false
    this.init.changes.removeEventListener('member:change', this.onChange)
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }
}
