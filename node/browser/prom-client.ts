/**
 * prom-client in a browser bundle: the four classes node/stats.ts makes, holding nothing.
 * Prometheus reads a node's registry only through the debug endpoint's /metrics, which a
 * browser node does not have; its counters live in Stats itself (`stats.get`, `stats.snapshot`),
 * which works the same in a page. prom-client proper needs Node (cluster, v8, process).
 */
interface MetricConfig { name: string, help: string, labelNames?: readonly string[], buckets?: number[], registers?: unknown[], collect?: () => void }

export class Registry {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8'
  async metrics (): Promise<string> { return '' }
  registerMetric (_metric: unknown): void {}
}

class Metric {
  readonly name: string
  constructor (config: MetricConfig) { this.name = config.name }
  reset (): void {}
}

export class Counter extends Metric {
  inc (_labels?: unknown, _value?: number): void {}
}

export class Gauge extends Metric {
  set (_labels: unknown, _value?: number): void {}
}

export class Histogram extends Metric {
  observe (_labels: unknown, _value?: number): void {}
}
