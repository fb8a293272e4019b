/**
 * The gateway's GraphQL binding at /graphql (docs/gateway-graphql-a2a.md): queries (agents,
 * coordinator, task, topics, recent events), mutations (publish, request, submit a task or a
 * pipeline, pause/resume/cancel) and subscriptions (topic events, task updates) of
 * MeshOperations. Queries and mutations over HTTP by graphql-http, subscriptions as server-sent
 * events by graphql-sse (both in graphql/http.ts) or over graphql-ws on the same path
 * (graphql/ws.ts). graphql-js parses, validates and executes; a document past the depth or field
 * limit is refused before it runs (graphql/limits.ts, through each library's onSubscribe); errors
 * carry the spec's code in `extensions.code` (graphql/errors.ts).
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Mount, MountFactory } from './mount.js'
import { GRAPHQL_DEFAULTS, type GraphqlOptions } from './graphql/constants.js'
import { httpBinding } from './graphql/http.js'
import { buildSchema } from './graphql/schema.js'
import { GraphqlWs } from './graphql/ws.js'

export { buildSchema } from './graphql/schema.js'
export { GRAPHQL_DEFAULTS, type GraphqlOptions } from './graphql/constants.js'

/** A GraphQL mount with these options (each defaults to GRAPHQL_DEFAULTS). */
export function createGraphqlMount (options: GraphqlOptions = {}): MountFactory {
  const o = { ...GRAPHQL_DEFAULTS, ...options }
  return (g): Mount => {
    const schema = buildSchema()
    const limits = { maxDepth: o.maxDepth, maxFields: o.maxFields }
    const closing = new AbortController()
    const ws = new GraphqlWs(g, { schema, limits, maxSubscriptions: o.maxSubscriptionsPerSocket, maxPayload: g.maxBodyBytes })
    const serveHttp = httpBinding(g, { schema, limits, keepAliveMs: o.keepAliveMs, closing: closing.signal })
    return {
      async request (r) {
        if (r.url.pathname !== o.path) return false
        let status = 500
        try {
          status = await serveHttp(r)
        } catch (err) {
          g.log.error({ err, correlation_id: r.correlationId }, 'graphql request failed')
          if (!r.res.headersSent) r.res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: 'internal error (see the node\'s log)', extensions: { code: 'INTERNAL' } }] }))
          else r.res.destroy()
        }
        g.count(o.path, status)
        return true
      },
      upgrade (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): boolean {
        if (url.pathname !== o.path) return false
        ws.upgrade(req, socket, head)
        return true
      },
      async close () {
        closing.abort()
        await ws.close()
      }
    }
  }
}

/** The GraphQL binding with the default limits. */
export const graphqlMount: MountFactory = createGraphqlMount()
