/**
 * The gateway's configuration (surfaces/gateway): where it listens, its token, and its limits,
 * the defaults with their reasons. No `listen`, no gateway. The schema is the node's (the config
 * is parsed once, at the edge); the gateway itself is built over the node from outside.
 */
import { z } from 'zod'

/** The shortest bearer token a surface takes (the debug endpoint, the gateway, the MCP endpoint): guessing one is then out of reach. */
export const MIN_TOKEN_CHARS = 16

/**
 * Largest request body (REST) and WebSocket frame accepted: 1 MiB, the mesh's own default
 * envelope bound (maxMessageBytes), so anything a client may send fits one message of the mesh.
 */
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
/** Bounds of maxBodyBytes: a task pipeline of a few tasks needs a few KiB; 64 MiB is more than any envelope may carry. */
const MIN_MAX_BODY_BYTES = 1024
const MAX_MAX_BODY_BYTES = 64 * 1024 * 1024

/**
 * Bytes a WebSocket client may leave unread on this node (beyond what the kernel's socket
 * buffers hold) before it is dropped: 1 MiB is a few thousand ordinary events, seconds of a busy
 * topic. A client that falls further behind would only grow the node's memory; it is closed,
 * counted, and may reconnect (and read recent events over REST).
 */
const DEFAULT_WS_MAX_BUFFERED_BYTES = 1024 * 1024
/** Subscriptions (topics and tasks) one WebSocket connection may hold: each topic costs a watcher, each task a follower. */
const DEFAULT_WS_MAX_SUBSCRIPTIONS = 100
/** WebSocket connections one gateway serves at once; each holds a socket and its subscriptions. */
const DEFAULT_WS_MAX_CONNECTIONS = 1_000
/**
 * The gateway pings every WebSocket client this often and closes one that has not answered the
 * previous ping: a client that vanished (laptop closed, NAT entry gone) is let go within two
 * intervals instead of holding its subscriptions forever. 30 s keeps idle NAT entries alive too.
 */
const DEFAULT_WS_PING_INTERVAL_MS = 30_000
/**
 * How long a blocking A2A SendMessage waits for its task to end (or to need the client) before
 * it answers with the task as it is: 60 s (A2A_DEFAULTS.blockingWaitMs). An HTTP request held
 * longer is cut by proxies and clients (the A2A TCK's gives up at 30 s).
 */
const DEFAULT_A2A_BLOCKING_WAIT_MS = 60_000

/**
 * The gateway's URL as its clients reach it (scheme, host, port, and a path if a proxy serves it
 * under one), without a trailing slash: behind a proxy or a public name, the listening address
 * (127.0.0.1:8080, say) is not where a client can reach it, and the A2A TCK flags a card naming a
 * loopback or private address.
 */
const PublicUrl = z.string()
  .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'expected a URL such as https://mesh.example.com or https://example.com/agentmesh (no query, no fragment)')
  .transform(u => u.replace(/\/+$/, ''))

/** host:port (a bare port, or ":port", means 127.0.0.1). */
const Listen = z.string().regex(/^((\[[0-9a-fA-F:]+\]|[^:\s]+)?:)?\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080 (a bare port means 127.0.0.1)')
/** A browser origin: scheme, host and port, as a browser sends it in `Origin`. */
const Origin = z.string().regex(/^https?:\/\/[^/\s]+$/, 'expected an origin such as http://localhost:3000 (scheme://host[:port], no path)')

export const GatewayConfig = z.strictObject({
  /** host:port of the gateway (REST and WebSocket under /v1, and the other bindings); none means no gateway. */
  listen: Listen.optional(),
  /**
   * The base of the URLs the gateway names for itself (the A2A card's interfaces, the OpenAPI
   * document's server); unset, the address it listens on (http://host:port).
   */
  publicUrl: PublicUrl.optional(),
  /** Bearer token every client must show; mandatory when the gateway binds beyond loopback. */
  token: z.string().min(MIN_TOKEN_CHARS).optional(),
  /** Largest request body or WebSocket frame accepted (413, or the socket closed with 1009, past it). */
  maxBodyBytes: z.number().int().min(MIN_MAX_BODY_BYTES).max(MAX_MAX_BODY_BYTES).default(DEFAULT_MAX_BODY_BYTES),
  /** Browser origins allowed to call the gateway (CORS) and open its WebSocket; other origins are refused (403). */
  origins: z.array(Origin).max(64).default([]),
  /** Bytes a WebSocket client may leave unread before it is dropped (counted). */
  wsMaxBufferedBytes: z.number().int().min(16 * 1024).default(DEFAULT_WS_MAX_BUFFERED_BYTES),
  /** Topic and task subscriptions one WebSocket connection may hold. */
  wsMaxSubscriptions: z.number().int().min(1).max(100_000).default(DEFAULT_WS_MAX_SUBSCRIPTIONS),
  /** WebSocket connections served at once; more are refused (503). */
  wsMaxConnections: z.number().int().min(1).default(DEFAULT_WS_MAX_CONNECTIONS),
  /** How often each WebSocket client is pinged; one that missed the previous ping is closed. 0 = never. */
  wsPingIntervalMs: z.number().int().min(0).default(DEFAULT_WS_PING_INTERVAL_MS),
  /**
   * The task type an A2A message of plain text becomes (`{type, metadata: {text}}`), run by an
   * agent offering `task:<type>`; unset, plain text is refused (-32602) and a message must say
   * what to run. A2A clients, and the A2A TCK, talk in text.
   */
  a2aTextTask: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'expected a task type such as a2a.text (letters, digits, . _ : -)').optional(),
  /**
   * The bound of a blocking A2A SendMessage: past it, the answer is the task as it is (WORKING,
   * say), to follow with GetTask or SubscribeToTask. Shorter for clients that give up sooner
   * than 60 s; 0 answers at once, as returnImmediately does.
   */
  a2aBlockingWaitMs: z.number().int().min(0).max(10 * 60_000).default(DEFAULT_A2A_BLOCKING_WAIT_MS)
})
export type GatewayConfig = z.output<typeof GatewayConfig>
