/**
 * The gateway's configuration (node/gateway): where it listens, its token, and its limits; the
 * defaults and their reasons are in node/gateway/constants.ts. No `listen`, no gateway.
 */
import { z } from 'zod'
import * as gw from './gateway/constants.js'

/** host:port (a bare port, or ":port", means 127.0.0.1). */
const Listen = z.string().regex(/^((\[[0-9a-fA-F:]+\]|[^:\s]+)?:)?\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080 (a bare port means 127.0.0.1)')
/** A browser origin: scheme, host and port, as a browser sends it in `Origin`. */
const Origin = z.string().regex(/^https?:\/\/[^/\s]+$/, 'expected an origin such as http://localhost:3000 (scheme://host[:port], no path)')

export const GatewayConfig = z.strictObject({
  /** host:port of the gateway (REST and WebSocket under /v1, and the other bindings); none means no gateway. */
  listen: Listen.optional(),
  /** Bearer token every client must show; mandatory when the gateway binds beyond loopback. */
  token: z.string().min(16).optional(),
  /** Largest request body or WebSocket frame accepted (413, or the socket closed with 1009, past it). */
  maxBodyBytes: z.number().int().min(gw.MIN_MAX_BODY_BYTES).max(gw.MAX_MAX_BODY_BYTES).default(gw.DEFAULT_MAX_BODY_BYTES),
  /** Browser origins allowed to call the gateway (CORS) and open its WebSocket; other origins are refused (403). */
  origins: z.array(Origin).max(64).default([]),
  /** Bytes a WebSocket client may leave unread before it is dropped (counted). */
  wsMaxBufferedBytes: z.number().int().min(16 * 1024).default(gw.DEFAULT_WS_MAX_BUFFERED_BYTES),
  /** Topic and task subscriptions one WebSocket connection may hold. */
  wsMaxSubscriptions: z.number().int().min(1).max(100_000).default(gw.DEFAULT_WS_MAX_SUBSCRIPTIONS),
  /** WebSocket connections served at once; more are refused (503). */
  wsMaxConnections: z.number().int().min(1).default(gw.DEFAULT_WS_MAX_CONNECTIONS),
  /** How often each WebSocket client is pinged; one that missed the previous ping is closed. 0 = never. */
  wsPingIntervalMs: z.number().int().min(0).default(gw.DEFAULT_WS_PING_INTERVAL_MS)
})
export type GatewayConfig = z.output<typeof GatewayConfig>
