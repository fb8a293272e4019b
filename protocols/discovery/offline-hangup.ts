/**
 * Connections follow the failure detector: a connection to an agent the member view has held
 * offline for `afterMs` (membership.hangUpAfterMs) is closed. It is dead (a host lost, a link
 * cut: nothing else notices, since libp2p's own pings run only every few minutes,
 * node/libp2p.ts) or worth nothing; if the agent lives after all it refutes and is dialled again.
 *
 * Not at once: under load agents are declared offline and refute seconds later, and closing
 * their connections at each such declaration fed the load (50 agents in a few processes, local
 * preset: a0's map never held all 50 in 240 s with an immediate hang-up, 16 s without).
 *
 * Nor on the detector's word alone: the connection is asked first (`answers`, a ping on it). A
 * busy agent can stay offline in the view for longer than the grace while its connection works;
 * closing it then only makes work (a new dial and handshake when it refutes) for a host that has
 * none to spare. Kept, it is asked again after another grace, for as long as it stays offline.
 */
import type { Startable } from '../core/service.js'
import type { MemberChange } from './member-table.js'
import { DEFAULT_HANG_UP_AFTER_MS } from './constants.js'

/** How long the ping asking a connection may go unanswered (as libp2p's monitor is set, node/libp2p.ts). */
export const OFFLINE_PING_TIMEOUT_MS = 15_000

export interface OfflineHangUpInit {
  /** Where offline declarations come from (the member view). */
  changes: { addEventListener: (type: 'member:change', listener: (e: CustomEvent<MemberChange>) => void) => void, removeEventListener: (type: 'member:change', listener: (e: CustomEvent<MemberChange>) => void) => void }
  /** The member's state now, as the member view holds it. */
  stateOf: (peerId: string) => string | undefined
  hangUp: (peerId: string) => void
  /** Whether the agent still answers on its connection here; unset, the grace alone decides. */
  answers?: (peerId: string) => Promise<boolean>
  /** How long an agent stays offline before its connection is asked (0: never). */
  afterMs?: number
}

export class OfflineHangUp implements Startable {
  private readonly init: OfflineHangUpInit
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>()
  /** Agents whose connection is being asked (no second timer meanwhile). */
  private readonly asking = new Set<string>()
  private running = false

  private readonly onChange = (e: CustomEvent<MemberChange>): void => {
    const { peerId, to } = e.detail
    if (!this.running || to !== 'offline' || this.init.afterMs === 0 || this.timers.has(peerId) || this.asking.has(peerId)) return
    this.arm(peerId)
  }

  constructor (init: OfflineHangUpInit) { this.init = init }

  private arm (peerId: string): void {
    const timer = setTimeout(() => {
      this.timers.delete(peerId)
      void this.due(peerId)
    }, this.init.afterMs ?? DEFAULT_HANG_UP_AFTER_MS)
    timer.unref?.()
    this.timers.set(peerId, timer)
  }

  private async due (peerId: string): Promise<void> {
    const offline = (): boolean => this.running && this.init.stateOf(peerId) === 'offline'
    if (!offline()) return
    if (this.init.answers === undefined) { this.init.hangUp(peerId); return }
    this.asking.add(peerId)
    let answered = false
    try {
      answered = await this.init.answers(peerId)
    } catch {
      answered = false
    } finally {
      this.asking.delete(peerId)
    }
    if (!offline()) return
    if (answered) this.arm(peerId)
    else this.init.hangUp(peerId)
  }

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
    this.asking.clear()
  }
}
