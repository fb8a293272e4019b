/**
 * The rates the live page draws as sparklines, sampled each second on a node that serves the
 * debug endpoint: per topic, this node's gossip in and out (from the message log's running
 * counts); per agent, the messages it exchanges (from the mesh map: what each agent announced it
 * exchanged with each neighbour) and the tasks it finished (from this node's copy of the task
 * table). Each in a RateRings (rate-rings.ts): a few minutes of 5-second buckets, bounded.
 */
import type { Startable } from '../../protocols/core/service.js'
import type { MeshSnapshot } from '../../protocols/discovery/mesh-map.js'
import type { TaskRecord } from '../../protocols/task/index.js'
import { RateRings } from './rate-rings.js'

/** How often the counts are taken. */
export const LIVE_RATES_TICK_MS = 1_000
/** The rings' buckets: 60 of 5 s, the last 5 minutes. */
export const RATE_BUCKET_MS = 5_000
export const RATE_BUCKETS = 60
/** The key of the whole mesh's series in `messages` and `tasks`. */
export const MESH_KEY = '(mesh)'

const FINISHED = new Set(['completed', 'failed', 'cancelled'])

export interface LiveRatesInit {
  topicTotals: () => ReadonlyMap<string, { readonly in: number, readonly out: number }>
  mesh: () => MeshSnapshot
  tasks: () => Iterable<TaskRecord>
  tickMs?: number
}

export class LiveRates implements Startable {
  /** Gossip messages into and out of this node, per topic. */
  readonly topicsIn = new RateRings(RATE_BUCKET_MS, RATE_BUCKETS)
  readonly topicsOut = new RateRings(RATE_BUCKET_MS, RATE_BUCKETS)
  /** Messages each agent exchanged with its neighbours, as announced; MESH_KEY: every link's. */
  readonly messages = new RateRings(RATE_BUCKET_MS, RATE_BUCKETS)
  /** Tasks each agent finished (completed, failed or cancelled); MESH_KEY: all of them. */
  readonly tasks = new RateRings(RATE_BUCKET_MS, RATE_BUCKETS)
  private readonly init: LiveRatesInit
  private timer?: ReturnType<typeof setInterval>
  private lastTopics = new Map<string, { in: number, out: number }>()
  private lastTasks = new Map<string, string>()
  private lastTick = 0

  constructor (init: LiveRatesInit) { this.init = init }

  start (): void {
    if (this.timer !== undefined) return
    // The counts so far are the base: what happened before the endpoint started is not a rate now.
    const now = Date.now()
    this.sampleTopics(now, false)
    this.sampleTasks(now, false)
    this.lastTick = now
    this.timer = setInterval(() => { this.tick(Date.now()) }, this.init.tickMs ?? LIVE_RATES_TICK_MS)
    this.timer.unref?.()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  /** One sample: the counts since the last one go into the bucket of `now`. */
  tick (now: number): void {
    const seconds = Math.max(0, (now - this.lastTick) / 1_000)
    this.lastTick = now
    this.sampleTopics(now, true)
    this.sampleTasks(now, true)
    this.sampleMesh(now, seconds)
    if (now % 60_000 < (this.init.tickMs ?? LIVE_RATES_TICK_MS)) {
      for (const r of [this.topicsIn, this.topicsOut, this.messages, this.tasks]) r.prune(now)
    }
  }

  private sampleTopics (now: number, count: boolean): void {
    const next = new Map<string, { in: number, out: number }>()
    for (const [topic, c] of this.init.topicTotals()) {
      next.set(topic, { in: c.in, out: c.out })
      if (!count) continue
      const was = this.lastTopics.get(topic) ?? { in: 0, out: 0 }
      this.topicsIn.add(topic, c.in - was.in, now)
      this.topicsOut.add(topic, c.out - was.out, now)
    }
    this.lastTopics = next
  }

  /** A task counts once, when this node first sees it in a finished state. */
  private sampleTasks (now: number, count: boolean): void {
    const next = new Map<string, string>()
    for (const r of this.init.tasks()) {
      const state = r.status.status
      next.set(r.spec.task_id, state)
      if (!count || !FINISHED.has(state) || this.lastTasks.get(r.spec.task_id) === state) continue
      if (r.status.agent !== undefined) this.tasks.add(r.status.agent, 1, now)
      this.tasks.add(MESH_KEY, 1, now)
    }
    this.lastTasks = next
  }

  /** Each agent's announced rates (msgs/s on each link) held for the seconds since the last tick. */
  private sampleMesh (now: number, seconds: number): void {
    if (seconds === 0) return
    const { edges } = this.init.mesh()
    const perAgent = new Map<string, number>()
    let all = 0
    for (const e of edges) {
      if (e.rate === 0) continue
      perAgent.set(e.a, (perAgent.get(e.a) ?? 0) + e.rate)
      perAgent.set(e.b, (perAgent.get(e.b) ?? 0) + e.rate)
      all += e.rate
    }
    for (const [agent, rate] of perAgent) this.messages.add(agent, rate * seconds, now)
    this.messages.add(MESH_KEY, all * seconds, now)
  }
}
