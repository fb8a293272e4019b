/**
 * The debug endpoint's /events: Server-Sent Events. SSE rather than WebSocket because the feed
 * only flows one way, a browser's EventSource reconnects by itself, curl can read it, and it
 * needs nothing beyond node:http. A client that stops reading is dropped once its unsent
 * buffer passes a bound, so a stalled browser tab cannot grow the node's memory.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** Clients an event stream serves at once, unless told otherwise; past it, a 503. */
export const EVENT_STREAM_MAX_CLIENTS = 32

export interface EventStreamInit {
  maxClients?: number
  /** Unsent bytes a client may have pending before it is dropped. */
  maxBufferedBytes?: number
  heartbeatMs?: number
  onDrop?: () => void
}

export class EventStream {
  private readonly clients = new Set<ServerResponse>()
  private readonly maxClients: number
  private readonly maxBufferedBytes: number
  private readonly heartbeatMs: number
  private heartbeat?: ReturnType<typeof setInterval>
  private readonly onDrop?: () => void

  constructor (init: EventStreamInit = {}) {
    this.maxClients = init.maxClients ?? EVENT_STREAM_MAX_CLIENTS
    this.maxBufferedBytes = init.maxBufferedBytes ?? 1024 * 1024
    this.heartbeatMs = init.heartbeatMs ?? 15_000
    this.onDrop = init.onDrop
  }

  /** Starts the keep-alive comments; attach() and send() work without it. */
  start (): void {
    if (this.heartbeat !== undefined) return
    // A comment line now and then keeps proxies and idle timeouts from closing the stream.
    this.heartbeat = setInterval(() => { this.write(': keep-alive\n\n') }, this.heartbeatMs)
    this.heartbeat.unref()
  }

  /** Ends every client's stream and the keep-alive. */
  stop (): void { this.close() }

  get size (): number { return this.clients.size }

  attach (req: IncomingMessage, res: ServerResponse, hello: unknown): void {
    if (this.clients.size >= this.maxClients) {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: `too many /events clients (${this.maxClients})` }))
      return
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`)
    this.clients.add(res)
    const remove = (): void => { this.clients.delete(res) }
    req.on('close', remove)
    res.on('close', remove)
  }

  send (event: string, data: unknown): void {
    if (this.clients.size === 0) return
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  }

  close (): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat)
    this.heartbeat = undefined
    for (const res of this.clients) res.end()
    this.clients.clear()
  }

  private write (text: string): void {
    for (const res of this.clients) {
      if (res.writableLength > this.maxBufferedBytes) {
        this.clients.delete(res)
        res.destroy()
        this.onDrop?.()
        continue
      }
      res.write(text)
    }
  }
}
