/** The debug endpoint's /gossip rates, from the running counts per topic node/message-log.ts keeps. */

export interface TopicRate { topic: string, in: number, out: number, inPerSec: number, outPerSec: number }

/**
 * Per-topic rates from the running counts: a sample every tick (the debug endpoint ticks each
 * second), and rates over the samples of the last `windowMs`. Pure: the counts and the clock are
 * passed in. Rates over a few seconds rather than one: a batch of gossip arriving just after a
 * tick would otherwise make the table jump between zero and double.
 */
export class TopicRates {
  private samples: Array<{ at: number, totals: Map<string, { in: number, out: number }> }> = []

  constructor (readonly windowMs = 5_000) {}

  sample (totals: ReadonlyMap<string, { readonly in: number, readonly out: number }>, now: number): void {
    const copy = new Map<string, { in: number, out: number }>()
    for (const [topic, c] of totals) copy.set(topic, { in: c.in, out: c.out })
    this.samples.push({ at: now, totals: copy })
    // Keep the newest sample at least windowMs old as the base the rates are measured from.
    while (this.samples.length > 2 && now - this.samples[1].at >= this.windowMs) this.samples.shift()
  }

  /** Each topic's counts at the last sample and its rates since the oldest; busiest first. */
  rates (): TopicRate[] {
    const first = this.samples[0]
    const last = this.samples[this.samples.length - 1]
    if (last === undefined) return []
    const secs = (last.at - first.at) / 1000
    const rate = (now: number, then: number): number => secs > 0 ? Math.round((now - then) / secs * 10) / 10 : 0
    const out: TopicRate[] = []
    for (const [topic, c] of last.totals) {
      // A topic absent from the base sample had no message then: all its count is in the window.
      const base = first.totals.get(topic) ?? { in: 0, out: 0 }
      out.push({ topic, in: c.in, out: c.out, inPerSec: rate(c.in, base.in), outPerSec: rate(c.out, base.out) })
    }
    return out.sort((a, b) => (b.inPerSec + b.outPerSec) - (a.inPerSec + a.outPerSec) || a.topic.localeCompare(b.topic))
  }
}
