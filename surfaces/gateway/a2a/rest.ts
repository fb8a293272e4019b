/**
 * A2A's HTTP+JSON binding under the same base as the JSON-RPC endpoint (POST /a2a is JSON-RPC;
 * /a2a/message:send, /a2a/tasks/{id} and the rest are these routes), with the SDK's message
 * codecs and error bodies (`toRestErrorBody`, `restStatusFor`: TaskNotFound is a 404), the
 * routes of its own Express binding without tenants. Push notification routes answer
 * PushNotificationNotSupported, as the card says.
 */
import {
  ListTasksResponse, SendMessageRequest, SendMessageResponse, StreamResponse, Task, TaskPushNotificationConfig, taskStateFromJSON, TaskState
} from '@a2a-js/sdk'
import { validateVersion } from '@a2a-js/sdk/server'
import { ContentTypeNotSupportedError, RequestMalformedError, restStatusFor, toRestErrorBody } from '@a2a-js/sdk/errors'
import type { GatewayContext, GatewayRequest } from '../mount.js'
import { BodyTooLargeError, readJson } from '../body.js'
import type { MeshA2AHandler } from './handler.js'
import { callContext, goneSignal } from './jsonrpc.js'
import { streamSse } from './sse.js'

export interface RestBinding {
  handler: MeshA2AHandler
  keepAliveMs: number
  closing: AbortSignal
}

const A2A_JSON = 'application/a2a+json'

/** The route a request's path (after the base) names, or undefined if none. */
export function restRoute (method: string, rest: string): string | undefined {
  if (rest === '/message:send' && method === 'POST') return 'send'
  if (rest === '/message:stream' && method === 'POST') return 'stream'
  if (rest === '/tasks' && method === 'GET') return 'list'
  if (rest === '/extendedAgentCard' && method === 'GET') return 'extended'
  if (/^\/tasks\/[^/]+:cancel$/.test(rest) && method === 'POST') return 'cancel'
  if (/^\/tasks\/[^/]+:subscribe$/.test(rest) && (method === 'GET' || method === 'POST')) return 'subscribe'
  if (/^\/tasks\/[^/:]+$/.test(rest) && method === 'GET') return 'get'
  if (/^\/tasks\/[^/]+\/pushNotificationConfigs(\/[^/]+)?$/.test(rest)) return 'push'
  return undefined
}

/** Answers an HTTP+JSON request; resolves with the status sent. `rest` is the path after the base, still percent-encoded. */
export async function serveRest (g: GatewayContext, b: RestBinding, r: GatewayRequest, route: string, rest: string): Promise<number> {
  const { req, res } = r
  const send = (status: number, body: unknown): number => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': A2A_JSON, 'content-length': Buffer.byteLength(text), 'x-correlation-id': r.correlationId })
    res.end(text)
    return status
  }
  const fail = (err: unknown): number => {
    const status = restStatusFor(err)
    if (status >= 500) g.log.warn({ err, correlation_id: r.correlationId }, 'a2a call failed')
    return send(status, toRestErrorBody(err, status))
  }
  const signal = goneSignal(r, b.closing)
  const context = callContext(r, signal)
  const id = decodeURIComponent(rest.split('/')[2]?.replace(/:(cancel|subscribe)$/, '') ?? '')
  const q = r.url.searchParams
  try {
    validateVersion(context.requestedVersion, await b.handler.getAgentCard(), 'HTTP+JSON')
    const body = req.method === 'POST' ? await readBody(g, r) : undefined
    switch (route) {
      case 'send': {
        const result = await b.handler.sendMessage(SendMessageRequest.fromJSON(body ?? {}), context)
        return send(200, SendMessageResponse.toJSON({ payload: 'messageId' in result ? { $case: 'message', value: result } : { $case: 'task', value: result } }))
      }
      case 'stream':
      case 'subscribe': {
        const events = route === 'stream'
          ? b.handler.sendMessageStream(SendMessageRequest.fromJSON(body ?? {}), context)
          : b.handler.resubscribe({ id, tenant: '' }, context)
        return await streamSse(wire(events), {
          res,
          correlationId: r.correlationId,
          keepAliveMs: b.keepAliveMs,
          signal,
          errorEvent: (err) => toRestErrorBody(err, restStatusFor(err)),
          answerError: fail
        })
      }
      case 'get': return send(200, Task.toJSON(await b.handler.getTask({ id, tenant: '', ...optionalInt('historyLength', q.get('historyLength')) })))
      case 'cancel': return send(200, Task.toJSON(await b.handler.cancelTask({ id, tenant: '', metadata: {} })))
      case 'list': {
        const includeArtifacts = q.get('includeArtifacts') === 'true'
        const status = q.get('status')
        const answer = await b.handler.listTasks({
          tenant: '',
          contextId: q.get('contextId') ?? '',
          status: status !== null && status !== '' ? taskStateFromJSON(Number.isNaN(Number(status)) ? status : Number(status)) : TaskState.TASK_STATE_UNSPECIFIED,
          pageToken: q.get('pageToken') ?? '',
          statusTimestampAfter: q.get('statusTimestampAfter') ?? undefined,
          includeArtifacts,
          ...optionalInt('pageSize', q.get('pageSize')),
          ...optionalInt('historyLength', q.get('historyLength'))
        })
        const json = ListTasksResponse.toJSON(answer) as { tasks?: Array<Record<string, unknown>> }
        // As the SDK's own binding: the paging fields always present, and artifacts when asked for even if none.
        const tasks = (json.tasks ?? []).map(t => includeArtifacts ? { artifacts: [], ...t } : t)
        return send(200, { ...json, tasks, nextPageToken: answer.nextPageToken, pageSize: answer.pageSize, totalSize: answer.totalSize })
      }
      case 'extended': return send(200, await b.handler.getAuthenticatedExtendedAgentCard())
      default: return send(201, TaskPushNotificationConfig.toJSON(await b.handler.createTaskPushNotificationConfig()))
    }
  } catch (err) {
    if (res.headersSent) { if (!res.writableEnded) res.end(); return 200 }
    return fail(err)
  }
}

async function readBody (g: GatewayContext, r: GatewayRequest): Promise<unknown> {
  const ct = String(r.req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
  if (ct !== '' && ct !== 'application/json' && ct !== A2A_JSON) throw new ContentTypeNotSupportedError(`content type "${ct}" is not accepted: send application/json`)
  try {
    return await readJson(r.req, g.maxBodyBytes)
  } catch (err) {
    // Malformed, or past the bound (the SDK's error bodies have no 413): RequestMalformed (400) with why.
    throw new RequestMalformedError({ message: (err as Error).message, metadata: { code: 'MSG002', ...(err instanceof BodyTooLargeError ? { limit: String(g.maxBodyBytes) } : {}) } })
  }
}

function optionalInt (name: string, value: string | null): Record<string, number> {
  if (value === null || value === '') return {}
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new RequestMalformedError(`${name} must be a non-negative integer`)
  return { [name]: n }
}

async function * wire (events: AsyncGenerator<StreamResponse>): AsyncGenerator<unknown> {
  for await (const e of events) yield StreamResponse.toJSON(e)
}
