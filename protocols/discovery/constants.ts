/**
 * Defaults of membership and failure detection (the `lan` preset: agents on one network, round
 * trips under a few ms), and the limits of what an agent card may advertise. The config schema
 * (node/config.ts) and the card and task schemas take their numbers from here; the `local` and
 * `wan` presets (node/presets.ts) scale the timings for one host and for real networks.
 */

/**
 * How often each agent passes the news it holds (statements new to it: joins, suspicions,
 * refutations, leaves) to DEFAULT_GOSSIP_FANOUT random neighbours: memberlist's GossipInterval
 * on a LAN. An agent with no news sends nothing, so a short interval costs nothing at rest, and
 * news reaches a mesh of n agents in about log(n) rounds.
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 200
/** Neighbours each gossip round tells (memberlist's GossipNodes). */
export const DEFAULT_GOSSIP_FANOUT = 3
/**
 * Each piece of news is passed on RETRANSMIT_MULT * ceil(log10(n + 1)) times by every agent that
 * heard it, n the members it knows (memberlist's RetransmitMult): enough that all hear it with
 * overwhelming odds, and logarithmic in the mesh.
 */
export const RETRANSMIT_MULT = 4
/**
 * Neighbours answering that a statement was held already, after which this node stops telling
 * it, for old news only (rumours.ts, `feedback`): a join (the first statement of a member this
 * node's table did not hold) and a statement whose only news was accusations that told this node
 * nothing (a confirmation past the limit): member-table.ts `telling`. These stop after a few
 * redundant tellings instead of RETRANSMIT_MULT * ceil(log10(n + 1)). Other news heard in gossip
 * keeps its full count (refutations must not wait for an exchange). bench:sim at 1,000 agents:
 * the join's gossip receipts per agent 16,000 -> 6,498, and 6,814 -> 3,731 once joins were old
 * news too.
 */
export const GOSSIP_FEEDBACK_LIMIT = 3
/**
 * The same for what a full exchange brought (a newcomer's whole view, a neighbour's catch-up):
 * one answer, unless it told this node something of a member it held (member-table.ts
 * `feedbackFor`). Its giver held it, and every agent exchanges every `syncIntervalMs`, so a statement
 * an exchange brings is old to the mesh, and the first neighbour that held it already says the
 * neighbourhood has it too. At three, a join wave's gossip was mostly statements their receiver
 * held (bench:sim at 1,000 agents: of 3,722 statements an agent received in gossip, 3,463). bench:sim seeds
 * 1-3 at 1,000 (issue 46): those receipts 3,722 -> 2,104, and all saw all sooner (16.7, 16.6,
 * 15.3 s -> 15.5, 15.5, 14.4 s); not told at all (a scratch switch, not a bench option), 216
 * receipts but 30.6 s: a newcomer's view, passed on, is how most agents first hear of the others.
 */
export const EXCHANGE_FEEDBACK_LIMIT = 1
/**
 * Statements an agent's gossip queue holds at most (rumours.ts `maxQueued`): past it, records
 * leave it untold, from the neighbour with the most queued, the most told and longest queued of
 * them first (memberlist's Prune, as Serf bounds its queue past MaxQueueDepth); this agent's own
 * statement never does. What leaves stays held, so full exchanges (every `syncIntervalMs`) still
 * carry it. A join wave teaches an agent statements far faster than its rounds tell them (32 a
 * message, three messages a round): unbounded, one agent's queue held 970 at 1,000 agents, 2,866
 * at 3,000 and ~3,750 on average at 10,000 (37.5 million records, 4.9 GB of a simulation's heap),
 * mostly statements told many times already. bench:sim seed 1 (issue 46), unbounded -> 128:
 * statements each agent received by gossip in the join 2,105 -> 1,699 at 1,000 agents and 4,561
 * -> 2,359 at 3,000, the 10% crash's per survivor 3,340 -> 2,811 and 6,624 -> 4,521. The times to
 * converge moved less than a second on average over three seeds at 1,000; at 3,000 the join was
 * 0.6 s later and the crash seen 1.4 s sooner (docs/benchmarks.md). By neighbour, so a burst of
 * fresh statements from one neighbour lets its own go, not a refutation another passed on.
 */
export const DEFAULT_MAX_QUEUED = 128
/**
 * How often each agent makes a full exchange with one random neighbour (memberlist's push/pull
 * interval): what gossip missed, such as a refutation lost in a partition or a join wave's last
 * few statements, is caught up. A newcomer does the same at once with the neighbours it meets.
 * An exchange starts with a digest (member-digest.ts) and carries statements only where the two
 * differ, so at rest it costs one small round trip; that is why it can run every 5 s where
 * memberlist's whole-state push/pull runs every 30. The scale simulation (bench:sim, 100 agents,
 * six seeds): with exchanges every 30 s the join wave's last pairs waited 24-47 s for one in
 * four seeds of six; every 5 s, every agent saw every other within 6-9 s, for 177 bytes a second
 * per agent at rest (the whole-state exchange every 30 s: 4,637).
 */
export const DEFAULT_SYNC_INTERVAL_MS = 5_000
/**
 * What one neighbour's full exchanges may make this node handle is refilled over this long at
 * the least (`syncStatementsPerInterval` per max(syncIntervalMs, this)): a short interval makes
 * exchanges more frequent, not the work a neighbour may put on this node.
 */
export const SYNC_BUDGET_WINDOW_MS = 30_000
/**
 * How long gossip and full exchanges wait for their answer, which is also their receiver's
 * deadline (past it a request is dropped unread). A probe's (500 ms) left a loaded mesh's gossip
 * dropped as expired (200 agents on two cores: 46-291 requests per 5 s); 30 s, the exchange
 * interval it was until exchanges became digests, did not (0-8), so it stays.
 */
export const NEWS_DEADLINE_MS = 30_000
/** A full exchange carries at most this much (the rpc limit is 1 MiB): a few thousand members. */
export const SYNC_MAX_BYTES = 512 * 1024
/**
 * Signatures of statements new to this node that one neighbour may make it check: a burst of a
 * thousand (a newcomer learning a mesh of that size from its first full exchange; a larger mesh
 * is learnt over a few exchanges and the gossip), then this many per second. An honest neighbour
 * passes on only statements it checked, and only news. An Ed25519 check through libp2p's keys
 * took 0.3-0.5 ms on the shared 2-core machine: one neighbour sending thousands of fresh or
 * badly signed statements a second would otherwise take the node's whole CPU; with this it takes
 * ~5%. What is left unchecked comes again by gossip or the next full exchange.
 */
export const STATEMENT_CHECKS_BURST = 1_024
export const STATEMENT_CHECKS_PER_SEC = 128
/**
 * Statements one neighbour's full exchanges may make this node handle per `syncIntervalMs` (at
 * least SYNC_BUDGET_WINDOW_MS): what it sends and what this node answers it with, in a bucket that
 * refills over that time; beyond it an exchange is refused before its statements are parsed
 * (RATE001). A digest costs a unit per 64 members summed and per 8 entries listed
 * (member-exchange.ts). Each statement of an exchange is parsed and compared even when already
 * known (20-50 ms for 3,000 on the shared 2-core machine), so without it one admitted peer could
 * send full exchanges as fast as the rpc limits let it (a dozen a second of 3,000) and take half
 * the node's CPU. An honest neighbour makes one on first contact (every statement, once) and
 * then digests that cost a few units: four first contacts with the largest mesh an exchange
 * carries (SYNC_MAX_STATEMENTS) fit, forty at 200 agents.
 */
export const DEFAULT_SYNC_STATEMENTS_PER_INTERVAL = 16_384
/**
 * How long an offline or left member stays listed before its statement is dropped (reaped, after
 * Serf's reconnect_timeout and tombstone_timeout, 24 h there). An hour: far above every timer of
 * failure detection and the election (suspicions up to 30 s in the wan preset, voters removed
 * after 30 s), so an agent back from a restart or a partition of minutes finds its entry as it
 * left it, and an operator looking at /members after an incident still sees who went down; short
 * enough that a mesh whose agents come and go under new identities does not pile them up for a
 * day. What a reaped member said is kept as a tombstone (its last seq and incarnation), so a
 * replay of its old statement does not bring it back; a fresh statement of its own does.
 */
export const DEFAULT_REAP_AFTER_MS = 3_600_000

/**
 * A connection to an agent held offline this long is asked (a ping, OFFLINE_PING_TIMEOUT_MS to
 * answer) and closed if it does not answer (offline-hangup.ts). Half a minute: past the longest
 * suspicion of the lan preset, so an agent a loaded host calls offline and that refutes a few
 * seconds later is not even asked.
 */
export const DEFAULT_HANG_UP_AFTER_MS = 30_000

/**
 * How often an agent held offline is dialled (reconnect.ts; Serf's reconnect_interval, 30 s there).
 * What joins a healed partition, so it bounds how long the two sides stay apart after the heal;
 * one failed dial per interval per agent while some member is really gone.
 */
export const DEFAULT_RECONNECT_INTERVAL_MS = 10_000
/**
 * The longest wait between two rounds of bootstrap dials (bootstrap.ts doubles it from 500 ms):
 * what a newcomer waits at most once its seeds have room again. Seeds full of a join wave
 * refuse before Noise (connection-gate.ts), so a retry costs them an accept and a close.
 * bench:sim, 1,000 agents joining through three seeds at once: every agent saw every other in
 * 39.8 and 38.9 s (seeds 1, 2) with 10 s here, 57.2 and 61.2 s with 30 s, where the last
 * refused newcomers sat out waits of up to 30 s after 99.6% of pairs saw each other.
 */
export const DEFAULT_BOOTSTRAP_MAX_DELAY_MS = 10_000
/**
 * Members a table holds at most, offline and left ones included. Over it, statements of agents
 * unknown here that a relay passes on are refused (an open mesh lets anyone sign statements for
 * made-up peer ids, which would otherwise stay in every table for good); agents connected here
 * are always taken. 16,384: a mesh of 10,000 agents (issue 46's aim) with room for those gone
 * until they are reaped. It was 4,096, the most one full exchange could describe before
 * exchanges ran in rounds, and a mesh past it never converged (each agent refused the rest). What
 * it costs (bench/member-memory.ts, 2026-12-02): a node's member view holds ~620 B of heap per
 * member of ordinary statements (~300 B) at 16,384 members (up to ~1 KB at 1,000, where the
 * view's fixed costs are shared by fewer), a credential's ~700 B
 * more in a closed mesh, where every member is one the owner admitted. In an open mesh anyone may
 * sign statements for peer ids it makes up, near MAX_STATEMENT_BYTES each with 256 suspects
 * (~117 KB of heap a member): there the cap stays at DEFAULT_OPEN_MAX_MEMBERS, ~0.46 GiB of such
 * a flood, where 16,384 would let it reach ~1.8 GiB.
 */
export const DEFAULT_MAX_MEMBERS = 16_384
/** `membership.maxMembers` in an open mesh (security.mode 'open', for local development): see DEFAULT_MAX_MEMBERS. */
export const DEFAULT_OPEN_MAX_MEMBERS = 4_096
/** How often each agent probes one of its neighbours directly, round robin (memberlist's LAN: 1 s). */
export const DEFAULT_PROBE_INTERVAL_MS = 1_000
/**
 * How long a probe may go unanswered before the prober suspects. Hundreds of times a LAN round
 * trip, so a loaded host that pauses for a garbage collection is not suspected (memberlist's
 * LAN: 500 ms).
 */
export const DEFAULT_PROBE_TIMEOUT_MS = 500
/** A neighbour not heard from this long is probed out of turn (the one silent longest, one a round). */
export const DEFAULT_SILENCE_MS = 3_000
/**
 * A suspicion becomes "offline" after SUSPICION_MAX when one agent alone suspects; each other
 * agent that confirms shortens it, down to SUSPICION_MIN at CONFIRMATIONS_FOR_MIN (memberlist's
 * rule). The minimum leaves the suspect two heartbeats to refute; the maximum keeps a lone
 * suspecter behind a bad link from calling a healthy agent offline quickly.
 */
export const DEFAULT_SUSPICION_MIN_MS = 2_000
export const DEFAULT_SUSPICION_MAX_MS = 6_000
export const DEFAULT_CONFIRMATIONS_FOR_MIN = 3
/** Confirmations counted at most: past this many the suspicion is at its minimum anyway. */
export const MAX_CONFIRMATIONS_FOR_MIN = 64

/**
 * How many agents a probe round, across the mesh, on average, take up an accusation whose
 * accusers are all gone (member-table.ts, `reconsider`): each holder does with probability
 * ADOPT_SHARE / live members, so the word outlives its accusers without N agents restating it.
 */
export const ADOPT_SHARE = 2

/**
 * How many agents, across the mesh on average, probe a member suspected on others' word only
 * (member-table.ts, `probeRound`): each does when a draw of its own, fixed for that suspicion
 * (its id, the suspect's, the incarnation), falls under HEARSAY_SHARE / its live neighbours. The
 * suspicion's end stops moving at `confirmationsForMin` + 1 accusers (3 + 1 by default), so twice
 * that is enough; with every neighbour probing (and every neighbour probing a suspect for its
 * silence), a hang of a tenth of 1,000 agents drew 2,629 first-hand accusations, each changing its
 * accuser's statement, told to all (bench:sim). A node with this many live neighbours or fewer (a
 * small mesh, an active view) probes every suspect; any node probes one whose suspicion is still
 * weak past `suspicionMinMs`.
 */
export const HEARSAY_SHARE = 8

/**
 * How often a node tells the mesh its neighbours, for /mesh and the live page. The map is for
 * people watching, so a few seconds of lag is fine and the gossip it costs stays small.
 */
export const DEFAULT_MESH_ANNOUNCE_INTERVAL_MS = 5_000

/**
 * The largest amounts an agent card may advertise and a task may require: far above any one
 * machine, low enough that sums over a mesh of agents stay exact in a double and a forged card
 * cannot claim the mesh's whole capacity many times over. One table for the card, the task's
 * requirements and the node's `resources` config.
 */
export const RESOURCE_LIMITS = {
  cpuCores: 4096,
  memoryGb: 65_536,
  storageGb: 1_048_576,
  gpuUnits: 1024
} as const

/** Storage an agent offers to tasks unless told otherwise (cores and memory: the machine's own). */
export const DEFAULT_STORAGE_GB = 100
/** GPUs an agent offers unless told: none, since a GPU in the machine may not be the agent's to give. */
export const DEFAULT_GPU_UNITS = 0
