/**
 * The OpenAPI 3.1 document of the REST routes, generated from the route table (routes.ts) and
 * the zod schemas the operations validate with (z.toJSONSchema; OpenAPI 3.1 schemas are JSON
 * Schema 2020-12, which is what zod writes). Nothing here is written by hand but the words.
 */
import { z } from 'zod'
import { AGENTMESH_VERSION } from '../../protocols/core/version.js'
import { ErrorBody } from '../operations/index.js'
import type { Route } from './routes.js'

const WORDS: Record<number, string> = {
  101: 'Switching Protocols: the WebSocket is open',
  200: 'OK',
  201: 'Created: the coordinator holds the tasks on a majority of the voters',
  400: 'Bad input: a parameter or body that does not match its schema (MSG001), or malformed JSON (MSG002)',
  401: 'No token, or a wrong one (SEC001)',
  403: 'Refused: a browser origin not allowed, or the mesh refused the operation (SEC002, TSK004, TSK007)',
  404: 'No such agent, task or dead letter (the code says which), or no such route',
  409: 'Conflicts with the state: a task in a state that refuses the control (TSK002), resources denied (CRD003), ...',
  413: 'Body over gateway.maxBodyBytes (MSG002)',
  415: 'A body that is not declared as application/json (MSG001)',
  422: 'A task the mesh cannot run as submitted: missing dependencies, no agent for it (TSK003, TSK005, TSK006)',
  426: 'Upgrade Required: this path speaks WebSocket only',
  429: 'Rate limited (RATE001)',
  431: 'Request line or headers over the HTTP server\'s 16 KiB: answered by Node before the gateway reads the request, with no body',
  500: 'Internal error (see the node\'s log; the message says no more)',
  502: 'The agent or the coordinator answered with an error, or could not be reached (COM002, CMD002)',
  503: 'No coordinator in office yet (CRD002), the store unavailable (STO001), or every WebSocket slot taken',
  504: 'The mesh did not answer in time (COM001)'
}

/** Answered by any route: bad input, refused, internal. */
const COMMON = [400, 401, 403, 500]

function jsonSchema (schema: z.ZodType | 'any', io: 'input' | 'output'): Record<string, unknown> {
  if (schema === 'any') return { description: 'any JSON value' }
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>
  return rest
}

function parameters (route: Route): unknown[] {
  const out: unknown[] = []
  for (const [name, schema] of Object.entries(route.params ?? {})) {
    out.push({ name, in: 'path', required: true, schema: jsonSchema(schema, 'input') })
  }
  for (const [name, field] of Object.entries(route.query?.shape ?? {}) as Array<[string, z.ZodType]>) {
    const description = field.description
    out.push({
      name,
      in: 'query',
      required: !field.safeParse(undefined).success,
      schema: jsonSchema(field, 'input'),
      ...(description !== undefined ? { description } : {})
    })
  }
  return out
}

function operation (route: Route): Record<string, unknown> {
  const ok = route.status ?? 200
  const statuses = [...new Set([...COMMON, ...route.errors, ...(route.body !== undefined ? [413, 415] : [])])].sort((a, b) => a - b)
  const responses: Record<string, unknown> = {
    [ok]: ok === 101 ? { description: WORDS[101] } : { description: WORDS[ok] ?? 'OK', content: { 'application/json': { schema: jsonSchema(route.response, 'output') } } }
  }
  for (const s of statuses) responses[s] = { description: WORDS[s] ?? 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
  // Any request can be too long for the HTTP server itself (a long query, many headers): Node answers it, bodiless.
  responses[431] = { description: WORDS[431] }
  const params = parameters(route)
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(route.body !== undefined
      ? { requestBody: { required: route.bodyRequired === true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } }
      : {}),
    responses
  }
}

/** The document for `routes`, served at `baseUrl`. */
export function openApiDocument (routes: readonly Route[], baseUrl: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of routes) (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route)
  return {
    openapi: '3.1.0',
    info: {
      title: 'agentmesh gateway',
      version: AGENTMESH_VERSION,
      description: 'REST for clients that are not libp2p nodes, run by the node that serves it (docs/gateway.md). ' +
        'Errors are {"error": {"code", "name", "message"}} with the mesh\'s codes (MSG001, COM001, TSK001, ...). ' +
        'Every answer carries x-correlation-id (the client\'s, if it sent a plain one); a W3C traceparent continues the trace into the mesh. ' +
        'The WebSocket at /v1/ws speaks JSON frames: subscribe, unsubscribe, publish, request, submit, ping.'
    },
    servers: [{ url: baseUrl }],
    // A loopback gateway wants no token; any other wants the bearer token.
    security: [{}, { bearer: [] }],
    tags: ['agents', 'topics', 'tasks', 'resources', 'dead letters', 'gateway'].map(name => ({ name })),
    paths,
    components: {
      schemas: { Error: jsonSchema(ErrorBody, 'output') },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'gateway.token, as Authorization: Bearer <token> (or ?token=)' } }
    }
  }
}
