/** Defaults of admission, each with its reason. */

/** What a credential signature covers starts with this, so no other signed statement can pass for one. */
export const CREDENTIAL_DOMAIN = 'agentmesh credential v1'
export const REVOCATION_DOMAIN = 'agentmesh revocation list v1'

/**
 * Clocks of agents differ: a credential is taken this long before it is issued and after it
 * expires. NTP keeps hosts within well under a second; containers share the host's clock.
 */
export const CLOCK_SKEW_MS = 60_000

/** A year and a day: longer-lived credentials are keys nobody remembers to rotate. */
export const MAX_CREDENTIAL_TTL_MS = 366 * 24 * 3_600_000

/** Entries a revocation list may hold: it travels by gossip, so it is bounded. */
export const MAX_REVOKED = 4_096

/**
 * A connected peer that has not shown a valid credential this long after connecting is
 * disconnected. The card exchange runs right after identify, well under a second on a LAN; a
 * few seconds leave room for a loaded host without letting a stranger linger.
 */
export const DEFAULT_ADMISSION_TIMEOUT_MS = 5_000

/**
 * How long a peer refused by its card exchange stays connected after the refusal (SEC001) was
 * answered, so that it reads why before the connection goes. Closing a socket with unread data
 * on it sends a reset, and a reset makes the other side drop what it had not read yet: at 100 ms,
 * a stranger on a loaded host (CI load, three test files at once) lost its SEC001 answer and saw
 * only "stream closed". A refused peer's requests are refused meanwhile, and nothing is sent to it.
 */
export const REFUSED_ANSWER_GRACE_MS = 1_000

/** The gossip topic revocation lists spread on; every node re-publishes a newer list it accepts. */
export const REVOCATIONS_TOPIC_NAME = '$agentmesh/revocations'

/** The role that makes an agent eligible to vote and be elected in a closed mesh. */
export const COORDINATOR_ROLE = 'coordinator'

/** Audit entries kept in memory for `/audit`: a few minutes of a busy mesh's refusals, a few hundred KB. */
export const DEFAULT_AUDIT_KEEP = 1_000

/** R-SEC: keys for sealed payloads are rotated daily. */
export const DEFAULT_KEY_ROTATION_MS = 24 * 3_600_000

/** An old content key opens payloads an hour after its replacement: messages in flight, dead letters retried. */
export const DEFAULT_KEY_GRACE_MS = 3_600_000

/**
 * A peer refused admission (no credential shown in time, or a bad one) is refused at the gate for
 * this long, doubled at each refusal after it up to REFUSAL_COOLDOWN_MAX_MS (issue 43): dropped
 * and let straight back, a stranger had a new admission window each time, six in fifteen
 * seconds. An agent whose credential was only late (a loaded host) loses two seconds.
 */
export const REFUSAL_COOLDOWN_MS = 2_000
export const REFUSAL_COOLDOWN_MAX_MS = 5 * 60_000
/** Refusals are forgotten this long after the last one: a fixed credential starts again from the first step. */
export const REFUSAL_MEMORY_MS = 10 * 60_000
/** Peers and hosts whose refusals are remembered; the oldest is forgotten first (bounded memory under a flood of new peer ids). */
export const MAX_REFUSALS_KEPT = 4_096
