/**
 * The CLI's nodes, traced as `tracing.otlpEndpoint` says. The CLI is the application here, so it
 * is what installs OpenTelemetry's SDK (a process-wide tracer provider, context manager and
 * propagator, node/otlp.ts) before it makes the node; the library itself only uses the API and
 * leaves those globals to whichever application embeds it.
 */
import { createAgentNode } from '../create-node.js'
import type { AgentNode } from '../agent-node.js'
import type { CreateAgentNodeOptions } from '../types.js'
import type { AgentConfig } from '../config.js'
import { installOtlpTracing } from '../otlp.js'

export async function createTracedNode (config: AgentConfig & Omit<CreateAgentNodeOptions, keyof AgentConfig>): Promise<AgentNode> {
  const tracing = config.tracing.otlpEndpoint !== undefined ? await installOtlpTracing(config.tracing.otlpEndpoint, config.tracing.serviceName) : undefined
  const node = await createAgentNode({ ...config })
  // Flushed when the node stops, so the spans of a short-lived CLI command are not lost.
  if (tracing !== undefined) node.tracing = tracing
  return node
}
