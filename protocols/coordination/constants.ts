/**
 * Defaults of the coordinator election and of the coordinator's requests (the `lan` preset). The
 * config schema (node/config.ts) takes its numbers from here; node/presets.ts scales the timings
 * for one host (`local`) and for real networks (`wan`).
 */

/**
 * Eligible agents that must see each other before the first voter set forms (Consul's
 * bootstrap_expect). 3 is the smallest voter set that survives the loss of one agent.
 */
export const DEFAULT_BOOTSTRAP_EXPECT = 3
/** A first voter set larger than this is a mistake in the config, not a mesh. */
export const MAX_BOOTSTRAP_EXPECT = 64
/**
 * The coordinator's heartbeat to every agent; it also renews the coordinator's lease. Raft's rule
 * is heartbeat << election timeout: a quarter of the shortest timeout lets three heartbeats be
 * lost before anyone calls an election.
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 100
/**
 * An agent that hears no coordinator for a random time in [min, max] calls an election. The
 * randomness spreads the candidates out so one usually wins the first round; the width (the
 * maximum twice the minimum) is Raft's usual choice. Fail-over thus takes about half a second,
 * about a third of one when the coordinator's process exited (Election.peerExited).
 */
export const DEFAULT_ELECTION_TIMEOUT_MIN_MS = 400
export const DEFAULT_ELECTION_TIMEOUT_MAX_MS = 800
/**
 * A voter silent this long is removed from the voter set (never below bootstrapExpect), like
 * Consul autopilot's dead-server clean-up. Long against failure detection, so a restart or a
 * short partition does not shrink the quorum and grow it again.
 */
export const DEFAULT_VOTER_REMOVE_AFTER_MS = 30_000
/**
 * How long the coordinator waits for an agent's answer to a directive or status request: an
 * agent that has not answered in this time is treated as failed for that round and retried.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000
/**
 * Voters at most: the other eligible agents are non-voters, promoted one at a time when a voter
 * is lost. Five survives two failures, and is what Consul and etcd advise: every voter more adds
 * a vote round trip and a replica of the task table, and no availability a mesh needs.
 */
export const DEFAULT_MAX_VOTERS = 5
export const MAX_MAX_VOTERS = 64
/**
 * How often the coordinator announces itself on gossip (term, voter set, the certificate of its
 * election). Non-voters learn the coordinator from it alone, so each agent costs the coordinator
 * nothing. Nothing waits on the interval: a win or a change of the voter set is announced at
 * once, and agents that join or come back within two heartbeats (LeaderState.announceDue); the
 * periodic one repairs an announcement gossip lost. Each costs every agent ~10 gossip frames (its
 * mesh peers' copies and the IHAVEs after it): at 1 s it was half of an idle agent's gossip and
 * a quarter of its CPU at rest (30 agents: 0.84-0.92% of a core per agent, 0.59-0.69% at 5 s).
 */
export const DEFAULT_ANNOUNCE_INTERVAL_MS = 5_000
/**
 * How often a voter checks that it holds a connection to each other voter (voter-links.ts); a
 * change of the voter set checks at once, so this only repairs a link lost meanwhile.
 */
export const VOTER_LINK_INTERVAL_MS = 2_000
/**
 * A voter offline in the member view and silent for this many maximum election timeouts is
 * replaced by a non-voter (Consul autopilot waits for its server to stabilise likewise): an
 * agent a loaded host lost sight of for a moment keeps its vote. A voter silent this long also
 * no longer counts among those that could form a majority (voter-word.ts `TermClaims`).
 */
export const LOST_AFTER_TIMEOUTS = 5

/**
 * A node about to bootstrap a voter set first asks up to this many of the agents it met first
 * whether one exists (bootstrap-check.ts); one that left this many such questions in a row
 * unanswered sits the next round out.
 */
export const BOOTSTRAP_CHECK_ASK = 5
export const BOOTSTRAP_CHECK_MISSES = 3
