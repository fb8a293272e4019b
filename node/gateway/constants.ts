/**
 * The gateway's defaults, each with its reason (node/gateway-config.ts is the schema that uses them).
 */

/**
 * Largest request body (REST) and WebSocket frame accepted: 1 MiB, the mesh's own default
 * envelope bound (maxMessageBytes), so anything a client may send fits one message of the mesh.
 */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
/** Bounds of maxBodyBytes: a task pipeline of a few tasks needs a few KiB; 64 MiB is more than any envelope may carry. */
export const MIN_MAX_BODY_BYTES = 1024
export const MAX_MAX_BODY_BYTES = 64 * 1024 * 1024

/**
 * Bytes a WebSocket client may leave unread on this node (beyond what the kernel's socket
 * buffers hold) before it is dropped: 1 MiB is a few thousand ordinary events, seconds of a busy
 * topic. A client that falls further behind would only grow the node's memory; it is closed,
 * counted, and may reconnect (and read recent events over REST).
 */
export const DEFAULT_WS_MAX_BUFFERED_BYTES = 1024 * 1024
/** Subscriptions (topics and tasks) one WebSocket connection may hold: each topic costs a watcher, each task a follower. */
export const DEFAULT_WS_MAX_SUBSCRIPTIONS = 100
/** WebSocket connections one gateway serves at once; each holds a socket and its subscriptions. */
export const DEFAULT_WS_MAX_CONNECTIONS = 1_000
/**
 * The gateway pings every WebSocket client this often and closes one that has not answered the
 * previous ping: a client that vanished (laptop closed, NAT entry gone) is let go within two
 * intervals instead of holding its subscriptions forever. 30 s keeps idle NAT entries alive too.
 */
export const DEFAULT_WS_PING_INTERVAL_MS = 30_000
/**
 * Operations (publish, request, submit) one WebSocket connection may have in flight: past it the
 * next is refused RATE001, so one client cannot queue unbounded work on the node (the rpc window
 * bounds what reaches each agent; this bounds what waits for it).
 */
export const WS_MAX_IN_FLIGHT = 256
/** A WebSocket request id: a string or a number the client chose, echoed in the answer. */
export const WS_MAX_ID_CHARS = 128

/** A correlation id a client sends (x-correlation-id) is kept if it is this short and plain; else a new one is made. */
export const MAX_CORRELATION_ID_CHARS = 128
