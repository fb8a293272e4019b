/** The A2A binding's defaults, each with why. */
import type { z } from 'zod'

export const A2A_DEFAULTS = {
  /** The JSON-RPC endpoint (POST here), and the base of the HTTP+JSON binding's routes (/a2a/message:send, /a2a/tasks/{id}, ...). */
  path: '/a2a',
  /** Where A2A clients look for the card (A2A 1.0, section 8.2; the SDK's AGENT_CARD_PATH). */
  cardPath: '/.well-known/agent-card.json',
  /**
   * A blocking SendMessage waits for the task to end (or to need the client) this long at
   * most, then answers with the task as it is: a client can follow it with GetTask or
   * SubscribeToTask. An HTTP request held for minutes is cut by proxies anyway.
   */
  blockingWaitMs: 60_000,
  /** Tasks sent through this binding that ListTasks lists and whose contextId and message it keeps (the oldest forgotten first). */
  remember: 1_000,
  /** A stream with nothing to say sends an SSE comment this often, so proxies keep it open. */
  keepAliveMs: 15_000
} as const

/** A skill the card names beyond what agents' cards say (a task type or a command), with its input schema where it is known. */
export interface A2aSkill {
  kind: 'task' | 'command'
  /** The task type, or the command name. */
  name: string
  description?: string
  /** For a task: the schema of its `metadata`; for a command: of its payload. */
  input?: z.ZodType
  /** For a task: the schema of its result; for a command: of its answer. */
  output?: z.ZodType
  tags?: string[]
}

export interface A2aOptions {
  path?: string
  cardPath?: string
  blockingWaitMs?: number
  remember?: number
  keepAliveMs?: number
  /** The card's name (default: "agentmesh gateway on <node name>"). */
  name?: string
  description?: string
  /** Skills named by whoever starts the gateway, in addition to those read from agents' capabilities. */
  skills?: A2aSkill[]
  /**
   * The task type a message of plain text becomes (`{type: textTask, metadata: {text}}`), run by
   * an agent that offers `task:<textTask>`: A2A clients (and the A2A TCK) talk in text, which
   * says nothing of what to run. None (the default): such a message is refused (-32602).
   */
  textTask?: string
}
