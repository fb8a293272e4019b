/**
 * The gateway's A2A binding (A2A 1.0 with @a2a-js/sdk; docs/gateway-graphql-a2a.md): the mesh
 * as one A2A agent. The agent card at /.well-known/agent-card.json (card.ts: its skills are
 * the mesh's task types and commands); JSON-RPC at POST /a2a with SSE streaming (jsonrpc.ts);
 * HTTP+JSON under /a2a/ (rest.ts). SendMessage and SendStreamingMessage submit mesh tasks or
 * call commands, GetTask, ListTasks, CancelTask and SubscribeToTask ask the mesh (handler.ts);
 * states and errors are mapped in mapping.ts. In a closed mesh the card is signed by the
 * gateway's node, its owner-issued credential in the signature's header (card-signature.ts).
 */
import { AgentCard } from '@a2a-js/sdk'
import { JsonRpcTransportHandler } from '@a2a-js/sdk/server'
import type { Mount, MountFactory } from '../mount.js'
import { sendJson } from '../body.js'
import { CardCache, type CardInput } from './card.js'
import { signCard } from './card-signature.js'
import { privateKeyOf } from '../../../protocols/coordination/election-keys.js'
import { A2A_DEFAULTS, type A2aOptions } from './constants.js'
import { MeshA2AHandler } from './handler.js'
import { serveJsonRpc } from './jsonrpc.js'
import { restRoute, serveRest } from './rest.js'

export { A2A_DEFAULTS, type A2aOptions, type A2aSkill } from './constants.js'
export { SCHEMA_EXTENSION, buildCard } from './card.js'
export { STATES } from './mapping.js'

/** An A2A mount with these options (each defaults to A2A_DEFAULTS). */
export function createA2aMount (options: A2aOptions = {}): MountFactory {
  const o = { ...A2A_DEFAULTS, ...options }
  return (g): Mount => {
    const cards = new CardCache()
    const card = (): ReturnType<CardCache['get']> => cards.get({
      ops: g.ops,
      baseUrl: g.baseUrl(),
      path: o.path,
      skills: o.skills ?? [],
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(o.description !== undefined ? { description: o.description } : {})
    } satisfies CardInput)
    // The served JSON, signed once per card built (and per credential: a renewed one signs anew).
    let signedFor: { card: AgentCard, credential: unknown } | undefined
    let served: Promise<unknown> | undefined
    const servedCard = async (): Promise<unknown> => {
      const current = card()
      const credential = g.ops.node.security.credential
      if (served === undefined || signedFor?.card !== current || signedFor.credential !== credential) {
        signedFor = { card: current, credential }
        const json = AgentCard.toJSON(current) as Record<string, unknown>
        served = credential === undefined
          ? Promise.resolve(json)
          : signCard(json, privateKeyOf(g.ops.node.libp2p), credential).then(sig => ({ ...json, signatures: [sig] }))
        // A failed signing is not kept: the next request tries again.
        served.catch(() => { served = undefined })
      }
      return await served
    }
    const handler = new MeshA2AHandler({
      ops: g.ops, log: g.log, card, blockingWaitMs: o.blockingWaitMs, remember: o.remember, ...(o.textTask !== undefined ? { textTask: o.textTask } : {})
    })
    const transport = new JsonRpcTransportHandler(handler)
    const closing = new AbortController()
    return {
      async request (r) {
        const path = r.url.pathname
        const method = r.req.method ?? 'GET'
        let route: string
        let status = 500
        try {
          if (path === o.cardPath) {
            route = o.cardPath
            if (method !== 'GET' && method !== 'HEAD') {
              status = 405
              r.res.setHeader('allow', 'GET, HEAD')
              sendJson(r.res, status, { error: { code: 'MSG001', name: 'MethodNotAllowed', message: 'the agent card is read with GET' } }, r.correlationId)
            } else {
              status = 200
              sendJson(r.res, status, await servedCard(), r.correlationId)
            }
          } else if (path === o.path) {
            route = o.path
            status = await serveJsonRpc(g, { handler, transport, keepAliveMs: o.keepAliveMs, closing: closing.signal }, r)
          } else if (path.startsWith(o.path + '/')) {
            const rest = path.slice(o.path.length)
            const name = restRoute(method, rest)
            if (name === undefined) return false
            route = `${o.path}/${name}`
            status = await serveRest(g, { handler, keepAliveMs: o.keepAliveMs, closing: closing.signal }, r, name, rest)
          } else {
            return false
          }
        } catch (err) {
          route = o.path
          g.log.error({ err, correlation_id: r.correlationId }, 'a2a request failed')
          status = 500
          if (!r.res.headersSent) sendJson(r.res, status, { error: { code: 'INTERNAL', name: 'InternalError', message: 'internal error (see the node\'s log)' } }, r.correlationId)
          else r.res.destroy()
        }
        g.count(route, status)
        return true
      },
      async close () { closing.abort() }
    }
  }
}

/** The A2A binding with the default paths and bounds, its skills read from agents' capabilities. */
export const a2aMount: MountFactory = createA2aMount()
