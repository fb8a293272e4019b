/**
 * GraphQL over WebSocket with graphql-ws (the `graphql-transport-ws` subprotocol, which Apollo,
 * urql, Relay and graphql-ws's own client speak) on the `ws` package. The gateway's server
 * authenticated the upgrade; this takes the socket. Every operation is parsed and validated
 * here with the same limits as over HTTP; a connection holds at most `maxSubscriptions` at once.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { GraphQLError, type ExecutionArgs, type GraphQLSchema } from 'graphql'
import { WebSocketServer, type WebSocket } from 'ws'
import { useServer } from 'graphql-ws/use/ws'
import type { GatewayContext } from '../mount.js'
import { codeOf, formatError, INTERNAL } from './errors.js'
import { paramsOf, prepare } from './prepare.js'
import type { QueryLimits } from './limits.js'
import type { GraphQLContext } from './schema.js'

export interface WsBinding {
  schema: GraphQLSchema
  limits: QueryLimits
  maxSubscriptions: number
  maxPayload: number
}

export class GraphqlWs {
  private readonly wss: WebSocketServer
  private readonly server: { dispose: () => Promise<void> | void }
  /** One signal per socket, fired when it closes: what runs for its operations stops. */
  private readonly signals = new WeakMap<WebSocket, AbortController>()

  constructor (private readonly g: GatewayContext, b: WsBinding) {
    // maxPayload: a frame larger than a request body may be is refused by ws (close 1009).
    this.wss = new WebSocketServer({ noServer: true, maxPayload: b.maxPayload })
    this.server = useServer<Record<string, unknown> | undefined, { socket: WebSocket, request: IncomingMessage }>({
      onSubscribe: (ctx, _id, payload): ExecutionArgs | readonly GraphQLError[] => {
        const open = Object.keys(ctx.subscriptions).length
        if (open >= b.maxSubscriptions) {
          return [new GraphQLError(`this connection already runs ${open} operations, the most it may`, { extensions: { code: 'RATE001' } })]
        }
        const prepared = prepare(b.schema, b.limits, paramsOf(payload))
        if (!prepared.ok) return prepared.errors
        const contextValue: GraphQLContext = { ops: g.ops, signal: this.signalOf(ctx.extra.socket) }
        return { schema: b.schema, document: prepared.document, operationName: payload.operationName, variableValues: payload.variables, contextValue }
      },
      onError: (_ctx, _id, _payload, errors) => errors.map(e => formatError(e)),
      onNext: (_ctx, _id, payload, _args, result) => {
        if (result.errors === undefined) return result
        for (const e of result.errors) {
          if (codeOf(e as GraphQLError) === INTERNAL) g.log.error({ err: (e as GraphQLError).originalError ?? e, operation: payload.operationName }, 'graphql resolver failed')
        }
        return { ...result, errors: result.errors.map(e => formatError(e as GraphQLError)) }
      }
    }, this.wss)
  }

  /** Takes an upgraded request on the GraphQL path. */
  upgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.g.count('/graphql (ws)', 101)
      this.wss.emit('connection', ws, req)
    })
  }

  async close (): Promise<void> {
    for (const c of this.wss.clients) this.signals.get(c)?.abort()
    await this.server.dispose()
  }

  private signalOf (socket: WebSocket): AbortSignal {
    let c = this.signals.get(socket)
    if (c === undefined) {
      const made = new AbortController()
      c = made
      this.signals.set(socket, made)
      socket.once('close', () => { made.abort() })
    }
    return c.signal
  }
}
