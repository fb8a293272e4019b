/**
 * Dials the configured bootstrap peers until connected, retrying with exponential backoff and
 * jitter, and dials again when a bootstrap peer's connection is lost: a node started before its
 * bootstrap peer, or cut off from it, joins as soon as it can.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { deadline } from '../protocols/core/deadline.js'

export interface BootstrapInit {
  libp2p: Libp2p
  addresses: string[]
  initialDelayMs: number
  maxDelayMs: number
  dialTimeoutMs: number
}

export interface BootstrapEvents {
  /** A bootstrap peer could not be reached; the dial is retried after `retryInMs`. */
  'dial:error': CustomEvent<{ address: string, error: Error, retryInMs: number }>
}

interface Target { address: string, peerId?: string, delay: number, timer?: ReturnType<typeof setTimeout>, dialing: boolean }

export class BootstrapDialer extends TypedEventEmitter<BootstrapEvents> {
  private readonly init: BootstrapInit
  private readonly targets: Target[]
  private controller = new AbortController()
  private running = false
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    for (const t of this.targets) if (t.peerId === id) this.schedule(t, t.delay)
  }

  constructor (init: BootstrapInit) {
    super()
    this.init = init
    this.targets = init.addresses.map(address => ({
      address,
      peerId: /\/p2p\/([^/]+)$/.exec(address)?.[1],
      delay: init.initialDelayMs,
      dialing: false
    }))
  }

  start (): void {
    if (this.running) return
    this.running = true
    if (this.controller.signal.aborted) this.controller = new AbortController()
    this.init.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    for (const t of this.targets) this.schedule(t, 0)
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.controller.abort()
    this.init.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const t of this.targets) {
      if (t.timer !== undefined) clearTimeout(t.timer)
      t.timer = undefined
    }
  }

  private schedule (t: Target, delay: number): void {
    if (!this.running || t.timer !== undefined || t.dialing) return
    t.timer = setTimeout(() => { t.timer = undefined; void this.dial(t) }, delay)
  }

  private async dial (t: Target): Promise<void> {
    if (!this.running) return
    if (t.peerId !== undefined && t.peerId === this.init.libp2p.peerId.toString()) return
    t.dialing = true
    const limit = deadline(this.init.dialTimeoutMs, this.controller.signal)
    try {
      const conn = await this.init.libp2p.dial(multiaddr(t.address), { signal: limit.signal })
      t.peerId = conn.remotePeer.toString()
      t.delay = this.init.initialDelayMs
    } catch (err) {
      if (!this.running) return
      // Our own address (a StatefulSet gives every pod one list that names itself too): the
      // handshake found this node's peer id. Never dial it again, and say nothing.
      if (/dial self/i.test((err as Error).message)) { t.peerId = this.init.libp2p.peerId.toString(); return }
      // Full jitter on the doubled delay, so nodes that lost the same bootstrap peer at the same
      // moment do not all come back at the same moment.
      const next = Math.min(t.delay * 2, this.init.maxDelayMs)
      const wait = Math.round(t.delay / 2 + Math.random() * t.delay / 2)
      t.delay = next
      this.safeDispatchEvent('dial:error', { detail: { address: t.address, error: err as Error, retryInMs: wait } })
      t.dialing = false
      this.schedule(t, wait)
      return
    } finally {
      limit.clear()
      t.dialing = false
    }
  }
}
