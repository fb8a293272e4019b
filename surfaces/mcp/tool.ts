/**
 * What an MCP tool of agentmesh is: a name, a description a model reads, an input schema (one of
 * surfaces/operations/schemas.ts, or built from them) and an output schema, both zod, from which the
 * JSON Schemas of tools/list are generated; and a run function over MeshOperations. The server
 * (./server.ts) checks the arguments against `input` before `run` sees them.
 */
import { z } from 'zod'
import type { Logger } from 'pino'
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js'
import type { MeshOperations } from '../operations/index.js'

export interface McpContext {
  ops: MeshOperations
  log: Logger
  /** Lists this node among the agents (an agent serving MCP itself); not when it is only the host's way in. */
  listSelf: boolean
  /**
   * Resolves once this node sees an agent, or after a bounded wait (the tool then runs and says
   * what it finds); rejects with the ConnectionError (COM002) of a mesh found unreachable.
   */
  joined: (signal: AbortSignal) => Promise<void>
  /** Counts a call by tool and outcome ('ok', our code, 'unknown_tool'), with its run time. */
  count: (tool: string, outcome: string, seconds: number) => void
}

export interface CallExtra {
  /** Fires when the host cancels the call (notifications/cancelled) or the transport closes. */
  signal: AbortSignal
  /** Tells the host how far a long call got (notifications/progress), if it asked with a progress token. */
  progress: (progress: number, total: number, message: string) => Promise<void>
}

export interface MeshTool<S extends z.ZodObject = z.ZodObject> {
  name: string
  title: string
  description: string
  input: S
  output: z.ZodObject
  /** Hints for the host (read-only, destructive, idempotent, talks to the outside world). */
  annotations: ToolAnnotations
  run: (ctx: McpContext, args: z.output<S>, extra: CallExtra) => Promise<Record<string, unknown>>
}

/** A tool, typed by its own input schema where it is written, stored beside the others. */
export function defineTool<S extends z.ZodObject> (tool: MeshTool<S>): MeshTool {
  return tool as unknown as MeshTool
}

/**
 * The same schema with descriptions on some of its fields, for the model that reads the tool
 * list: the fields keep their own checks (the operations' schemas stay the one definition).
 */
export function described<S extends z.ZodObject> (schema: S, texts: { [K in keyof S['shape']]?: string }): S {
  const shape: Record<string, z.ZodType> = {}
  for (const [key, text] of Object.entries(texts)) {
    if (text !== undefined) shape[key] = (schema.shape[key] as z.ZodType).describe(text as string)
  }
  return schema.extend(shape) as unknown as S
}

/** A bounded wait in ms, for the tools that can wait on the mesh. */
export function waitMs (max: number, what: string): z.ZodOptional<z.ZodNumber> {
  return z.number().int().min(0).max(max).optional().describe(`${what} (ms, at most ${max}; 0 or absent: answer at once)`)
}

/** Resolves after `ms`, or at once when the signal fires (the caller looks at the signal). */
export async function pause (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => {
    const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
