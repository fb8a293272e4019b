/**
 * Counters the node keeps about itself, named as R-MON names them. They are plain labelled
 * counters so that tests and /health can read them; the Prometheus exposition of the
 * observability issue is built on top of this, not beside it.
 */
export type Labels = Record<string, string>

export type CounterName =
  | 'messages_total' // {direction: in|out, type, status: ok|invalid|expired|error|dropped}
  | 'rpc_errors_total' // {code, reason}
  | 'gossip_rejected_total' // {reason}
  | 'streams_aborted_total' // {protocol, reason}
  | 'peers_joined_total'
  | 'peers_left_total'

function key (labels: Labels): string {
  return Object.keys(labels).sort().map(k => `${k}=${labels[k]}`).join(',')
}

export class Stats {
  private readonly counters = new Map<CounterName, Map<string, { labels: Labels, value: number }>>()

  inc (name: CounterName, labels: Labels = {}, by = 1): void {
    let series = this.counters.get(name)
    if (series === undefined) { series = new Map(); this.counters.set(name, series) }
    const k = key(labels)
    const entry = series.get(k)
    if (entry === undefined) series.set(k, { labels, value: by })
    else entry.value += by
  }

  /** The sum of a counter over every series whose labels include `match`. */
  get (name: CounterName, match: Labels = {}): number {
    let sum = 0
    for (const { labels, value } of this.counters.get(name)?.values() ?? []) {
      if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += value
    }
    return sum
  }

  snapshot (): Record<string, Array<{ labels: Labels, value: number }>> {
    const out: Record<string, Array<{ labels: Labels, value: number }>> = {}
    for (const [name, series] of this.counters) out[name] = [...series.values()].map(e => ({ labels: { ...e.labels }, value: e.value }))
    return out
  }
}
