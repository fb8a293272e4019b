/**
 * Named sets of timings and the security mode, like memberlist's DefaultLocalConfig /
 * DefaultLANConfig / DefaultWANConfig: the config key `preset` (flag `--preset`, variable
 * AGENTMESH_PRESET) picks one, and any value given explicitly (file, environment, flags,
 * options) wins over it.
 *
 *   lan    the defaults: agents on one network, round trips under a few ms; closed.
 *   local  agents on one host, and the tests: fast failure detection and elections; open.
 *   wan    agents across real networks: round trips of 50-300 ms, loss, and pauses; closed.
 *
 * A preset sets the same keys whatever its name, so changing presets changes every timing.
 */
import * as coordination from '../protocols/coordination/constants.js'
import * as membership from '../protocols/discovery/constants.js'
import type { MemberTimings } from '../protocols/discovery/member-timings.js'

export const PRESET_NAMES = ['local', 'lan', 'wan'] as const
export type PresetName = typeof PRESET_NAMES[number]

/** The keys a preset sets: the timings of failure detection and of the coordinator election, and the security mode. */
export interface Preset {
  /**
   * Closed unless the preset is `local`: one host, where development and tests run without keys
   * (docs/security.md "Modes"); an explicit `security.mode` (`--open`, `--credential`) wins.
   */
  security: { mode: 'open' | 'closed' }
  membership: Omit<MemberTimings, 'confirmationsForMin'>
  coordination: {
    heartbeatIntervalMs: number
    electionTimeoutMinMs: number
    electionTimeoutMaxMs: number
    voterRemoveAfterMs: number
    announceIntervalMs: number
  }
}

/** The defaults, each explained where it is defined (protocols/discovery/ and coordination/constants.ts). */
const lan: Preset = {
  security: { mode: 'closed' },
  membership: {
    heartbeatIntervalMs: membership.DEFAULT_HEARTBEAT_INTERVAL_MS,
    probeIntervalMs: membership.DEFAULT_PROBE_INTERVAL_MS,
    probeTimeoutMs: membership.DEFAULT_PROBE_TIMEOUT_MS,
    silenceMs: membership.DEFAULT_SILENCE_MS,
    syncIntervalMs: membership.DEFAULT_SYNC_INTERVAL_MS,
    suspicionMinMs: membership.DEFAULT_SUSPICION_MIN_MS,
    suspicionMaxMs: membership.DEFAULT_SUSPICION_MAX_MS
  },
  coordination: {
    heartbeatIntervalMs: coordination.DEFAULT_HEARTBEAT_INTERVAL_MS,
    electionTimeoutMinMs: coordination.DEFAULT_ELECTION_TIMEOUT_MIN_MS,
    electionTimeoutMaxMs: coordination.DEFAULT_ELECTION_TIMEOUT_MAX_MS,
    voterRemoveAfterMs: coordination.DEFAULT_VOTER_REMOVE_AFTER_MS,
    announceIntervalMs: coordination.DEFAULT_ANNOUNCE_INTERVAL_MS
  }
}

/**
 * One host: a loopback round trip is a fraction of a millisecond, so what a timeout must ride out
 * is not the network but the event loop of a busy host (a garbage collection, another process's
 * burst of CPU: up to ~100 ms on two cores). Hence a few hundred ms, not tens: an agent that
 * stops is offline in about a second and a coordinator is replaced in under one.
 */
const local: Preset = {
  // Open: a local try and the tests need no owner key or credentials; the node warns that it is.
  security: { mode: 'open' },
  membership: {
    // News goes round a host's agents in a few tenths of a second.
    heartbeatIntervalMs: 100,
    probeIntervalMs: 200,
    // Three times a long event-loop stall: a paused but healthy agent still answers in time.
    probeTimeoutMs: 300,
    // Three probe rounds, as on a LAN.
    silenceMs: 600,
    // A test that heals a partition sees the sides agree within a few seconds.
    syncIntervalMs: 5_000,
    // Two heartbeats to refute a suspicion; alone, six.
    suspicionMinMs: 400,
    suspicionMaxMs: 1_200
  },
  coordination: {
    heartbeatIntervalMs: 50,
    // Six heartbeats may be lost before an election; the width spreads the candidates out.
    electionTimeoutMinMs: 300,
    electionTimeoutMaxMs: 600,
    // As on a LAN: a test that restarts an agent keeps it in the voter set.
    voterRemoveAfterMs: coordination.DEFAULT_VOTER_REMOVE_AFTER_MS,
    // A win, a change of the voters and a join are announced at once; the periodic one repairs a
    // lost announcement within a second. At 250 ms it was 28% of an idle agent's CPU (30 agents:
    // 1.85-1.9% of a core each, 1.33-1.36% at 1 s).
    announceIntervalMs: 1_000
  }
}

/**
 * Real networks: round trips of 50-300 ms across regions, packet loss that costs a TCP
 * retransmission (1 s and more), and gossip that needs several rounds to reach everyone.
 */
const wan: Preset = {
  security: { mode: 'closed' },
  membership: {
    // memberlist's WAN gossip interval: news crosses slow and metered links in fewer, fuller messages.
    heartbeatIntervalMs: 500,
    // memberlist's WAN probe interval: probes cost more round trips and more traffic here.
    probeIntervalMs: 5_000,
    // memberlist's WAN probe timeout: a far round trip plus a retransmission must not read as a failure.
    probeTimeoutMs: 3_000,
    // Five heartbeats: one or two lost on the way are normal on a WAN.
    silenceMs: 10_000,
    // Three times the lan's: at rest an exchange is a digest, and the simulation's join wave over
    // 20-150 ms links (100 agents, four seeds) saw every agent see every other in 10-14 s (45-54 s
    // in two seeds of four with exchanges every 60 s, memberlist's WAN push/pull).
    syncIntervalMs: 15_000,
    // A refutation must gossip back across the network (a few heartbeat rounds) before the minimum
    // runs out; a lone suspecter behind a bad route needs half a minute to call an agent offline.
    suspicionMinMs: 8_000,
    suspicionMaxMs: 30_000
  },
  coordination: {
    // Raft wants the heartbeat above the round trip and far below the election timeout.
    heartbeatIntervalMs: 500,
    // Five heartbeats, and about ten of the longest round trips, before an election: one slow
    // route or a lost packet must not depose a working coordinator (each election stalls the mesh).
    electionTimeoutMinMs: 2_500,
    electionTimeoutMaxMs: 5_000,
    // WAN partitions often heal within minutes: shrinking the voter set for one costs a quorum change.
    voterRemoveAfterMs: 120_000,
    // Twice the LAN's: joins and changes are announced at once; the periodic one only repairs.
    announceIntervalMs: 10_000
  }
}

/** The presets by name; `presets.lan` holds the defaults. */
export const presets: Readonly<Record<PresetName, Readonly<Preset>>> = Object.freeze({ local: frozen(local), lan: frozen(lan), wan: frozen(wan) })

function frozen (p: Preset): Readonly<Preset> {
  Object.freeze(p.security)
  Object.freeze(p.membership)
  Object.freeze(p.coordination)
  return Object.freeze(p)
}

/** The preset used when none is named. */
export const DEFAULT_PRESET: PresetName = 'lan'
