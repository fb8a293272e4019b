/**
 * The monitoring protocol's messages (R-MON): metric reports on `monitoring.metrics`, alerts on
 * `monitoring.alerts.<severity>`, and the coordinator's on-demand collection.
 */
import { z } from 'zod'
import { defineCommand } from '../rpc/index.js'

export const METRICS_TOPIC = 'monitoring.metrics'
export const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const
export const Severity = z.enum(SEVERITIES)
export type Severity = z.infer<typeof Severity>
export const alertTopic = (severity: Severity): string => `monitoring.alerts.${severity}`

const Timestamp = z.iso.datetime({ offset: true })

export const MetricReport = z.strictObject({
  report_id: z.string().min(1).max(128),
  agent: z.string().max(128),
  name: z.string().max(64),
  timestamp: Timestamp,
  /** Why it was sent: the interval, or somebody asked. */
  trigger: z.enum(['interval', 'demand']),
  metrics: z.strictObject({
    messages_in: z.number().nonnegative(),
    messages_out: z.number().nonnegative(),
    active_connections: z.number().int().nonnegative(),
    peers: z.number().int().nonnegative(),
    tasks_running: z.number().int().nonnegative(),
    rss_mb: z.number().nonnegative(),
    event_loop_utilization: z.number().min(0).max(1),
    uptime_s: z.number().nonnegative()
  }),
  /** What the agent adds through `monitoring.setCustom()`. */
  custom: z.record(z.string().max(128), z.number()).default({})
})
export type MetricReport = z.infer<typeof MetricReport>

export const Alert = z.strictObject({
  alert_id: z.string().min(1).max(128),
  severity: Severity,
  source: z.string().max(128),
  message: z.string().min(1).max(4096),
  timestamp: Timestamp,
  labels: z.record(z.string().max(128), z.string().max(1024)).default({})
})
export type Alert = z.infer<typeof Alert>
export type AlertInput = Pick<z.input<typeof Alert>, 'severity' | 'message' | 'labels'> & { alert_id?: string }

/** Anyone -> agent: a metric report now (what the coordinator's performance report gathers). */
export const CollectCommand = defineCommand('$agentmesh/monitoring/collect', { request: z.strictObject({}), response: MetricReport })
