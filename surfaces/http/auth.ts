/**
 * What the surfaces that speak HTTP (the debug endpoint, the gateway, the MCP endpoint) share
 * about who may call them and how their server closes: one bearer-token check, one way to stop.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, Server } from 'node:http'

/** A bearer token kept as its digest, compared in constant time. */
export class BearerToken {
  private readonly digest: Buffer

  constructor (token: string) {
    this.digest = sha256(token)
  }

  /**
   * The token a request gives: its `Authorization: Bearer` header, else (where `url` is passed)
   * its `?token=` parameter, which a browser's EventSource, unable to send headers, uses.
   */
  static given (req: IncomingMessage, url?: URL): string {
    const h = req.headers.authorization ?? ''
    if (h.startsWith('Bearer ')) return h.slice(7)
    return url?.searchParams.get('token') ?? ''
  }

  /** Digests have one length whatever the token's, so the comparison leaks neither. */
  matches (given: string): boolean {
    return timingSafeEqual(sha256(given), this.digest)
  }
}

/** Closes a server now: open keep-alive and in-flight connections too, not only the listener. */
export async function closeServer (server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>(resolve => { server.close(() => { resolve() }) })
}

function sha256 (s: string): Buffer {
  return createHash('sha256').update(s).digest()
}
