/**
 * The CLI's nodes, traced as `tracing.otlpEndpoint` says. The CLI is the application here, so it
 * is what installs OpenTelemetry's SDK (a process-wide tracer provider, context manager and
 * propagator, otlp.ts) before it makes the node; the library itself only uses the API and leaves
 * those globals to whichever application embeds it.
 */
import { createAgentNode } from '../compose.js'
import type { AgentNode } from '../../node/agent-node.js'
import type { CreateAgentNodeOptions } from '../../node/types.js'
import type { AgentConfig } from '../../node/config.js'
import { installOtlpTracing } from './otlp.js'

type Options = AgentConfig & Omit<CreateAgentNodeOptions, keyof AgentConfig>

/** A node made by `create` (the package's, with the surfaces its config asks for, unless another is given), traced. */
export async function createTracedNode (config: Options, create: (o: Options) => Promise<AgentNode> = createAgentNode): Promise<AgentNode> {
  const tracing = config.tracing.otlpEndpoint !== undefined ? await installOtlpTracing(config.tracing.otlpEndpoint, config.tracing.serviceName) : undefined
  const node = await create({ ...config })
  // Flushed when the node stops, so the spans of a short-lived CLI command are not lost.
  if (tracing !== undefined) node.tracing = tracing
  return node
}
