/**
 * How often an agent publishes its metric report on `monitoring.metrics` (R-MON); 0 = only on
 * demand. The mesh's monitoring traffic is agents / interval, and every node that hears reports
 * receives all of it.
 */
export const DEFAULT_METRICS_INTERVAL_MS = 10_000

/**
 * Beyond this many agents the interval grows in proportion to the mesh, so the mesh as a whole
 * publishes no more reports a second than this many agents do at the set interval (one a second
 * by default), and what each hearer receives stays flat in N. At a fixed 10 s, when every agent
 * heard every report, 50 idle agents spent 1.16-1.18% of a core each, against 0.41% with no
 * reports (bench:scale --traffic 50, docs/benchmarks.md): 5 reports a second, each gossiped to
 * and checked by all 50. memberlist scales its push-pull interval with the cluster for the same
 * reason.
 */
export const DEFAULT_METRICS_SCALE_FROM = 10

/** The interval between two reports of one agent in a mesh of `agents` (this one included). */
export function reportIntervalMs (intervalMs: number, agents: number, scaleFrom: number): number {
  if (scaleFrom <= 0 || agents <= scaleFrom) return intervalMs
  return Math.round(intervalMs * agents / scaleFrom)
}

/**
 * Who hears every agent's report by default: the voters. Only the coordinator reads them (its
 * performance report), and it is always one of the voters, so a new one has them at once. When
 * every agent heard them, one report a second mesh-wide cost each agent about 0.4% of a core at
 * rest (a dozen gossip frames per report: forwarded copies and IHAVEs), as much as all the rest
 * of an idle agent's work (docs/benchmarks.md, "Who hears metric reports").
 */
export const DEFAULT_HEAR_REPORTS: 'voters' | 'all' = 'voters'
