/**
 * How a failure reaches an MCP host. While a tool runs: a tool result with `isError: true`
 * whose text starts with our code ("COM001: no answer ..."), which the host hands to the model.
 * Before it runs (no such tool, arguments that fail its schema) and for resources: a JSON-RPC
 * error, its message starting with our code too, its `data` carrying the code (and the issues).
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { errorBody } from '../operations/errors.js'

/** The MCP specification's code for a resource that does not exist (not one of JSON-RPC's). */
export const RESOURCE_NOT_FOUND = -32002

/**
 * A JSON-RPC error answer. Not the SDK's McpError, whose message already reads "MCP error
 * <code>: ..." and would reach the host prefixed twice; the SDK sends any thrown error's `code`,
 * `message` and `data` as they are.
 */
export class RpcError extends Error {
  constructor (readonly code: number, message: string, readonly data?: Record<string, unknown>) {
    super(message)
    this.name = 'RpcError'
  }
}

/** A failure while a tool ran, as the tool result a model reads: our code first. */
export function toolError (err: unknown): CallToolResult {
  const { error } = errorBody(err)
  return { isError: true, content: [{ type: 'text', text: `${error.code}: ${error.message}` }] }
}
