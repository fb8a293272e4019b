/**
 * Connections kept in step with the member view: a connection to an agent held offline that does
 * not answer is closed (discovery/offline-hangup.ts), and agents held offline are dialled one at a
 * time so a healed partition joins up (discovery/reconnect.ts). And with the voter set: voters keep
 * a connection to each other (protocols/coordination/voter-links.ts).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { AgentConfig } from './config.js'
import type { AgentLibp2p } from './libp2p.js'
import type { MemberView } from '../discovery/members.js'
import { OFFLINE_PING_TIMEOUT_MS, OfflineHangUp } from '../discovery/offline-hangup.js'
import { Reconnector } from '../discovery/reconnect.js'
import { VoterLinks } from '../protocols/coordination/voter-links.js'
import { VOTER_LINK_INTERVAL_MS } from '../protocols/coordination/constants.js'
import type { CoordinationService } from '../protocols/coordination/index.js'

export function memberConnections (libp2p: AgentLibp2p, memberView: MemberView, config: AgentConfig): [OfflineHangUp, Reconnector] {
  const connected = (peer: string): boolean => libp2p.getConnections(peerIdFromString(peer)).length > 0
  const hangUps = new OfflineHangUp({
    changes: memberView,
    stateOf: peer => memberView.member(peer)?.state,
    afterMs: config.membership.hangUpAfterMs,
    hangUp: peer => { libp2p.hangUp(peerIdFromString(peer)).catch(() => {}) },
    // A ping on the connection there is (none: nothing to keep); it rejects when unanswered.
    answers: async peer => {
      if (!connected(peer)) return false
      await libp2p.services.ping.ping(peerIdFromString(peer), { signal: AbortSignal.timeout(OFFLINE_PING_TIMEOUT_MS) })
      return true
    }
  })
  const reconnect = new Reconnector({
    intervalMs: config.membership.reconnectIntervalMs,
    offline: () => memberView.members().filter(m => m.state === 'offline').map(m => m.peerId),
    connected,
    dial: async (peer, signal) => { await libp2p.dial(peerIdFromString(peer), { signal }) },
    dialTimeoutMs: config.connections.dialTimeoutMs
  })
  return [hangUps, reconnect]
}

/** Links between the voters, checked again whenever the voter set changes. */
export function voterConnections (libp2p: AgentLibp2p, coordination: CoordinationService, config: AgentConfig): VoterLinks {
  const links = new VoterLinks({
    self: libp2p.peerId.toString(),
    voters: () => coordination.voters(),
    connected: peer => libp2p.getConnections(peerIdFromString(peer)).length > 0,
    dial: async (peer, signal) => { await libp2p.dial(peerIdFromString(peer), { signal }) },
    intervalMs: config.client ? 0 : VOTER_LINK_INTERVAL_MS,
    dialTimeoutMs: config.connections.dialTimeoutMs
  })
  coordination.addEventListener('voters:change', () => { links.check() })
  return links
}
