/**
 * The simulators' events in flight (messages, timers), earliest first, ties in the order they
 * were pushed (`order`, unique and increasing): a calendar queue of one-millisecond days.
 *
 * A binary heap of every event (what this was) cost 13-15% of bench:sim's CPU at 1,000 agents:
 * tens of thousands of events in flight, each pop walking ~16 levels of objects spread over the
 * heap. Here an event goes into the list of its millisecond, unsorted; only the millisecond's
 * numbers are kept in a heap (a few thousand, timers reaching seconds ahead), and a millisecond's
 * list is sorted once, when it comes up. An event pushed into the millisecond being played (a
 * message of half a millisecond's latency) is put in its place there. The order out is the
 * heap's exactly: (at, order) is a total order, so the simulation's figures do not change.
 */

export interface InFlight { at: number, order: number }

const byTime = (a: InFlight, b: InFlight): number => a.at - b.at || a.order - b.order

export class Flights<T extends InFlight> {
  /** The future milliseconds' events, unsorted, by millisecond. */
  private readonly days = new Map<number, T[]>()
  /** Those milliseconds, a binary heap of numbers. */
  private readonly keys: number[] = []
  /** The millisecond being played, sorted, and how far into it. */
  private today: T[] = []
  private todayKey = -Infinity
  private head = 0
  private count = 0

  get size (): number { return this.count }

  peek (): T | undefined {
    if (this.head === this.today.length && !this.next()) return undefined
    return this.today[this.head]
  }

  push (f: T): void {
    this.count++
    const day = Math.floor(f.at)
    if (day <= this.todayKey) {
      // Its place in today's sorted rest: after every event not later than it (its order is the newest).
      const list = this.today
      let lo = this.head
      let hi = list.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (byTime(list[mid], f) <= 0) lo = mid + 1
        else hi = mid
      }
      if (lo === list.length) list.push(f)
      else list.splice(lo, 0, f)
      return
    }
    const list = this.days.get(day)
    if (list !== undefined) { list.push(f); return }
    this.days.set(day, [f])
    this.pushKey(day)
  }

  pop (): T | undefined {
    if (this.head === this.today.length && !this.next()) return undefined
    this.count--
    const f = this.today[this.head]
    // Let go of what was played (the list is dropped whole when the day ends).
    this.today[this.head++] = undefined as unknown as T
    return f
  }

  /** The next millisecond with events, sorted; false when none is left. */
  private next (): boolean {
    if (this.keys.length === 0) return false
    const day = this.popKey()
    const list = this.days.get(day) as T[]
    this.days.delete(day)
    list.sort(byTime)
    this.today = list
    this.todayKey = day
    this.head = 0
    return true
  }

  private pushKey (k: number): void {
    const h = this.keys
    let i = h.length
    h.push(k)
    while (i > 0) {
      const p = (i - 1) >> 1
      if (h[p] <= k) break
      h[i] = h[p]
      i = p
    }
    h[i] = k
  }

  private popKey (): number {
    const h = this.keys
    const top = h[0]
    const last = h.pop() as number
    const n = h.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const m = r < n && h[r] < h[l] ? r : l
        if (h[m] >= last) break
        h[i] = h[m]
        i = m
      }
      h[i] = last
    }
    return top
  }
}
