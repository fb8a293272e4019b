/** Bounds of the MCP server (surfaces/mcp), each with why. */

/**
 * Longest a tool may wait on the mesh for the caller (submit_task and get_task until a task
 * ends, read_topic for a new event, find_agents for an agent). Hosts give up on a call after
 * their own timeout (the SDK's client: 60 s, unless progress notifications reset it), so
 * waiting longer than a few minutes only holds a call nobody reads.
 */
export const MAX_WAIT_MS = 300_000

/**
 * How long a tool that needs the mesh waits, at the MCP node's start, for the first agent to be
 * seen: a host starts the server and calls a tool at once, before bootstrap has dialled anyone.
 * After it the tool runs anyway and says what it finds (no agent, COM002).
 */
export const JOIN_WAIT_MS = 10_000

/**
 * At start, the first tool call waits until no agent joined for this long (after the first): the
 * bootstrap peer comes first and the agents it tells of a moment later, and a model that lists
 * the agents at once should see them all.
 */
export const SETTLE_MS = 1_000

/** How often a wait on tasks this node submitted looks at their latest status (local, no network). */
export const LOCAL_POLL_MS = 200

/** How often a wait on tasks submitted elsewhere asks the coordinator (one query each time). */
export const REMOTE_POLL_MS = 1_000

/** How often read_topic's wait looks for a new event (local memory only). */
export const TOPIC_POLL_MS = 200

/** Events read_topic answers when the caller gives no limit. */
export const DEFAULT_TOPIC_LIMIT = 20

/**
 * Largest body a Streamable HTTP request may carry. Tool arguments are JSON a model wrote; the
 * mesh's own envelopes stop at 1 MiB, so a larger body could never reach an agent anyway.
 */
export const MAX_HTTP_BODY_BYTES = 2 * 1024 * 1024

/** Streamable HTTP requests served at once; past it a request is answered 503 (retry later). */
export const MAX_HTTP_IN_FLIGHT = 64
