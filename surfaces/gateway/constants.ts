/**
 * The gateway's own bounds, each with its reason. The defaults a user may change (body size, the
 * WebSocket's limits) are in the config's schema, node/gateway-config.ts.
 */

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
