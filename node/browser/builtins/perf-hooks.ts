/**
 * `node:perf_hooks` in a browser bundle: the page's own `performance` (now() as in Node), with
 * `eventLoopUtilization`, which only Node measures, reading zero: a browser node's metric
 * reports say `event_loop_utilization: 0`.
 */
interface Utilization { idle: number, active: number, utilization: number }

const page = (globalThis as unknown as { performance: { now: () => number, timeOrigin: number } }).performance

export const performance = {
  now: (): number => page.now(),
  get timeOrigin (): number { return page.timeOrigin },
  eventLoopUtilization: (_a?: Utilization, _b?: Utilization): Utilization => ({ idle: 0, active: 0, utilization: 0 })
}
