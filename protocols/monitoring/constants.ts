/**
 * How often an agent publishes its metric report on `monitoring.metrics` (R-MON); 0 = only on
 * demand. Every agent's report reaches every agent (each keeps the latest of all), so the mesh's
 * monitoring traffic is agents / interval, and each agent receives all of it.
 */
export const DEFAULT_METRICS_INTERVAL_MS = 10_000

/**
 * Beyond this many agents the interval grows in proportion to the mesh, so the mesh as a whole
 * publishes no more reports a second than this many agents do at the set interval (one a second
 * by default), and what each agent receives stays flat in N. At a fixed 10 s, 50 idle agents
 * spent 1.16-1.18% of a core each, against 0.41% with no reports (bench:scale --traffic 50,
 * docs/benchmarks.md): 5 reports a second, each gossiped to and checked by all 50. memberlist
 * scales its push-pull interval with the cluster for the same reason.
 */
export const DEFAULT_METRICS_SCALE_FROM = 10

/** The interval between two reports of one agent in a mesh of `agents` (this one included). */
export function reportIntervalMs (intervalMs: number, agents: number, scaleFrom: number): number {
  if (scaleFrom <= 0 || agents <= scaleFrom) return intervalMs
  return Math.round(intervalMs * agents / scaleFrom)
}
