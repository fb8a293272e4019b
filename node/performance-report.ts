/**
 * The coordinator's performance report (R-MON), published on `coordination.performance` after
 * each round with the latest metric report of every agent alive.
 *
 * Reports come by gossip, and gossip carries a report only through subscribers: only the voters
 * hear them (monitoring.hearReports), so an agent with no connection to a voter publishes to
 * nobody, and at 200 agents each reports every 200 s (protocols/monitoring/constants.ts). The
 * round's status requests connect the coordinator to every agent, but the report goes out at the
 * round's end, before their next reports: so the agents not heard from are asked for one first
 * (one request each, once: what they publish later reaches the coordinator over that connection).
 */
import type { PubSubService } from '../protocols/pubsub/index.js'
import type { MonitoringService } from '../protocols/monitoring/index.js'
import type { CoordinationReport } from '../protocols/coordination/index.js'

export interface PerformanceReportInit {
  pubsub: PubSubService
  monitoring: MonitoringService
  /** Peer ids of the agents alive now, this node's among them. */
  alive: () => string[]
  /** How long an agent asked for its report may take. */
  timeoutMs: number
  started: () => boolean
}

export async function publishPerformance (report: CoordinationReport, init: PerformanceReportInit): Promise<void> {
  const { monitoring } = init
  const heard = new Set(monitoring.reports().map(m => m.agent))
  const missing = init.alive().filter(p => !heard.has(p))
  if (missing.length > 0) await monitoring.collect(missing, init.timeoutMs)
  const agentMetrics = monitoring.reports().filter(m => m.agent !== undefined)
  if (init.started()) await init.pubsub.publish('coordination.performance', { ...report, agentMetrics })
}
