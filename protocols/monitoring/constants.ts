/**
 * How often an agent publishes its metric report on `monitoring.metrics` (R-MON); 0 = only on
 * demand. Every agent's report reaches every subscriber, so the mesh's monitoring traffic is
 * agents / interval: 10 s keeps a hundred agents at ten small messages a second.
 */
export const DEFAULT_METRICS_INTERVAL_MS = 10_000
