/**
 * Monitoring on one node (R-MON): the agent's metric report, published on `monitoring.metrics`
 * every interval (while someone listens) and on demand, alerts published by severity, and the
 * latest report of every agent, kept by the nodes that hear reports (the coordinator's
 * performance report uses them; by default the voters hear them, node/services.ts).
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { TypedEventEmitter } from 'main-event'
import type { RpcService } from '../rpc/index.js'
import type { PubSubService, Subscription } from '../pubsub/index.js'
import { ValidationError } from '../core/errors.js'
import { jittered } from '../core/jitter.js'
import { Alert, CollectCommand, MetricReport, alertTopic, METRICS_TOPIC, type AlertInput } from './schemas.js'
import { reportIntervalMs } from './constants.js'

export * from './schemas.js'

export interface MonitoringInit {
  self: string
  name: string
  rpc: RpcService
  /** Reports and alerts go out on it (while started); agents' reports are heard on it (hear()). */
  pubsub: PubSubService
  /**
   * Whether this node's rule has it hear every agent's report (subscribe to
   * `monitoring.metrics`) from the start; follow() changes the rule's answer later, and hear()
   * overrides it. Default true.
   */
  hears?: boolean
  /**
   * Whether a periodic report has anyone to reach now (a connected peer subscribes to
   * `monitoring.metrics`, or this node does); a report nobody would hear is not made. Default:
   * always.
   */
  listened?: () => boolean
  intervalMs: number
  /** Beyond this many agents the interval grows with the mesh (constants.ts); 0 = never. */
  scaleFrom?: number
  /** The agents in the mesh as this node sees it, itself included. */
  agents?: () => number
  /** The figures of this node now. */
  figures: () => Omit<MetricReport['metrics'], 'rss_mb' | 'event_loop_utilization' | 'uptime_s'>
}

export interface MonitoringEvents {
  /** An alert this node published. */
  alert: CustomEvent<Alert>
  /** A report could not be published. */
  error: CustomEvent<{ error: Error }>
}

export class MonitoringService extends TypedEventEmitter<MonitoringEvents> {
  private readonly init: MonitoringInit
  private timer?: ReturnType<typeof setTimeout>
  private readonly latest = new Map<string, MetricReport>()
  private readonly custom: Record<string, number> = {}
  private elu = performance.eventLoopUtilization()
  private readonly startedAt = Date.now()
  private unhandle?: () => void
  private reportsHeard?: Subscription<unknown>
  /** What the node's rule says (follow()); what hear() said, which wins over it. */
  private byRule: boolean
  private told?: boolean
  private hearing: boolean
  private running = false

  constructor (init: MonitoringInit) {
    super()
    this.init = init
    this.byRule = this.hearing = init.hears ?? true
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.unhandle = this.init.rpc.handle(CollectCommand, () => this.snapshot('demand'))
    if (this.init.intervalMs > 0) this.schedule()
    if (this.hearing) this.listenForReports()
  }

  /**
   * Hear every agent's report from now on (subscribe to `monitoring.metrics`), or stop hearing
   * them and forget those kept. A report heard costs every node that hears it a dozen gossip
   * frames (forwarded copies and IHAVEs), so a mesh where every agent heard every report paid
   * for it N times over (docs/benchmarks.md, "Who hears metric reports").
   */
  hear (on: boolean): void {
    this.told = on
    this.apply()
  }

  /**
   * What the node's rule (monitoring.hearReports: the voters) says now, as its voter set
   * changes; a hear() call wins over it from then on.
   */
  follow (on: boolean): void {
    this.byRule = on
    this.apply()
  }

  private apply (): void {
    const on = this.told ?? this.byRule
    if (on === this.hearing) return
    this.hearing = on
    if (!this.running) return
    if (on) {
      this.listenForReports()
    } else {
      this.reportsHeard?.unsubscribe()
      this.reportsHeard = undefined
      for (const agent of [...this.latest.keys()]) if (agent !== this.init.self) this.latest.delete(agent)
    }
  }

  /** Whether this node hears every agent's report now (hear()). */
  get hears (): boolean { return this.hearing }

  stop (): void {
    if (!this.running) return
    this.running = false
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.unhandle?.()
    this.unhandle = undefined
    this.reportsHeard?.unsubscribe()
    this.reportsHeard = undefined
  }

  /**
   * The next periodic report, after the interval for the mesh's size now, within ±10% so that
   * agents started together do not report together.
   */
  private schedule (): void {
    const { intervalMs, scaleFrom = 0, agents } = this.init
    const every = reportIntervalMs(intervalMs, agents?.() ?? 1, scaleFrom)
    this.timer = setTimeout(() => {
      if (!this.running) return
      if (this.init.listened?.() !== false) {
        this.report('interval').catch((err: Error) => { this.safeDispatchEvent('error', { detail: { error: err } }) })
      }
      this.schedule()
    }, Math.round(jittered(every, 0.1)))
    this.timer.unref?.()
  }

  /** Every agent's latest metric report, kept as heard: the coordinator's performance report uses them. */
  private listenForReports (): void {
    const sub = this.init.pubsub.subscribe(METRICS_TOPIC)
    this.reportsHeard = sub
    void (async () => {
      for await (const m of sub) {
        // One handed over as hear(false) unsubscribed is not kept.
        if (this.reportsHeard !== sub) break
        const r = MetricReport.safeParse(m.payload)
        if (r.success && r.data.agent === m.from) this.record(r.data)
      }
    })()
  }

  /** Only while started: a report or alert of a node that is not in the mesh goes nowhere. */
  private async publish (topic: string, payload: unknown): Promise<void> {
    if (this.running) await this.init.pubsub.publish(topic, payload)
  }

  /** An agent-specific figure carried in every report from now on (`custom`). */
  setCustom (name: string, value: number): void { this.custom[name] = value }

  /** This node's report as of now. */
  snapshot (trigger: MetricReport['trigger'] = 'demand'): MetricReport {
    const elu = performance.eventLoopUtilization(this.elu)
    this.elu = performance.eventLoopUtilization()
    return {
      report_id: randomUUID(),
      agent: this.init.self,
      name: this.init.name,
      timestamp: new Date().toISOString(),
      trigger,
      metrics: {
        ...this.init.figures(),
        rss_mb: Math.round(process.memoryUsage.rss() / 2 ** 20 * 10) / 10,
        event_loop_utilization: Math.round(elu.utilization * 1000) / 1000,
        uptime_s: Math.round((Date.now() - this.startedAt) / 1000)
      },
      custom: { ...this.custom }
    }
  }

  /** Publish a report on `monitoring.metrics` now. */
  async report (trigger: MetricReport['trigger'] = 'demand'): Promise<MetricReport> {
    const r = this.snapshot(trigger)
    this.record(r)
    await this.publish(METRICS_TOPIC, r)
    return r
  }

  /** Publish an alert on `monitoring.alerts.<severity>`. */
  async alert (input: AlertInput): Promise<Alert> {
    const parsed = Alert.safeParse({
      alert_id: input.alert_id ?? randomUUID(), source: this.init.self, timestamp: new Date().toISOString(), labels: {}, ...input
    })
    if (!parsed.success) {
      throw new ValidationError(`alert: ${parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
    }
    this.safeDispatchEvent('alert', { detail: parsed.data })
    await this.publish(alertTopic(parsed.data.severity), parsed.data)
    return parsed.data
  }

  /** A report heard on `monitoring.metrics` (or made here). Only an agent's own reports count. */
  record (r: MetricReport): void {
    const had = this.latest.get(r.agent)
    if (had === undefined || Date.parse(had.timestamp) <= Date.parse(r.timestamp)) this.latest.set(r.agent, r)
  }

  forget (agent: string): void { this.latest.delete(agent) }

  /** The latest report of each agent heard from. */
  reports (): MetricReport[] { return [...this.latest.values()] }

  /** Ask agents for a report now (the coordinator does before its performance report). */
  async collect (agents: string[], timeoutMs: number): Promise<MetricReport[]> {
    const got = await Promise.all(agents.map(async a => {
      if (a === this.init.self) return this.snapshot('demand')
      try { return await this.init.rpc.request(a, CollectCommand, {}, { timeoutMs }) } catch { return undefined }
    }))
    // A report counts for the agent that answered, whatever it says its id is.
    const reports = got.filter((r, i): r is MetricReport => r !== undefined && r.agent === agents[i])
    for (const r of reports) this.record(r)
    return reports
  }
}
