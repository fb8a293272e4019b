/**
 * Monitoring through real nodes: metric reports on monitoring.metrics on an interval and on
 * demand, alerts on monitoring.alerts.<severity>, collection by the coordinator, and the
 * performance report carrying the agents' reports.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AgentNode } from '../node/index.js'
import type { Alert, MetricReport } from '../protocols/monitoring/index.js'
import { startMesh, stopAll, waitFor } from './helpers.js'

test('monitoring: metric reports on an interval and on demand, alerts by severity, the coordinator\'s performance report uses them', async () => {
  const nodes = await startMesh(3, () => ({ monitoring: { metricsIntervalMs: 300 }, coordination: { bootstrapExpect: 3, heartbeatIntervalMs: 50, electionTimeoutMinMs: 300, electionTimeoutMaxMs: 600 } }))
  try {
    const [n0, n1, n2] = nodes
    const reports: Array<{ from: string, r: MetricReport }> = []
    const alerts: Alert[] = []
    const metrics = n0.subscribe('monitoring.metrics')
    const critical = n0.subscribe('monitoring.alerts.critical')
    void (async () => { for await (const m of metrics) reports.push({ from: m.from, r: m.payload as MetricReport }) })()
    void (async () => { for await (const m of critical) alerts.push(m.payload as Alert) })()
    await waitFor(() => [n1, n2].every(n => reports.some(x => x.from === n.peerId && x.r.trigger === 'interval')), 'interval reports from the other agents')
    const one = reports.find(x => x.from === n1.peerId)?.r as MetricReport
    assert.equal(one.agent, n1.peerId)
    assert.equal(one.metrics.peers, 2)
    assert.ok(one.metrics.rss_mb > 0 && one.metrics.active_connections >= 2)

    n2.monitoring.setCustom('queue_depth', 7)
    const asked = await n2.monitoring.report()
    await waitFor(() => reports.some(x => x.r.report_id === asked.report_id), 'the on-demand report')
    assert.equal(asked.trigger, 'demand')
    assert.equal(asked.custom.queue_depth, 7)

    await waitFor(() => n0.topicPeers('monitoring.alerts.critical').subscribers.length >= 0 && n2.topicPeers('monitoring.alerts.critical').subscribers.includes(n0.peerId), 'n2 to see the alert subscription')
    await n2.monitoring.alert({ severity: 'critical', message: 'disk full', labels: { disk: '/var' } })
    await waitFor(() => alerts.length === 1, 'the critical alert')
    assert.equal(alerts[0].source, n2.peerId)
    assert.deepEqual(alerts[0].labels, { disk: '/var' })
    await assert.rejects(n2.monitoring.alert({ severity: 'apocalyptic' as 'critical', message: 'x' }), (e: Error & { code?: string }) => e.code === 'MSG001')
    assert.match((await n2.stats.exposition()).body, /alerts_total\{severity="critical"\} 1/)

    // The coordinator collects every agent's report and its performance report carries them.
    await waitFor(() => nodes.filter(n => n.coordinator().inOffice).length === 1, 'a coordinator', 20_000)
    const coordinator = nodes.find(n => n.coordinator().inOffice) as AgentNode
    const collected = await coordinator.monitoring.collect(nodes.map(n => n.peerId), 2_000)
    assert.deepEqual(collected.map(r => r.agent).sort(), nodes.map(n => n.peerId).sort())
    const perf = n0.subscribe('coordination.performance')
    const performance: Array<{ agentMetrics: MetricReport[] }> = []
    void (async () => { for await (const m of perf) performance.push(m.payload as { agentMetrics: MetricReport[] }) })()
    await waitFor(() => coordinator === n0 || coordinator.topicPeers('coordination.performance').subscribers.includes(n0.peerId), 'the coordinator to see the subscription')
    await coordinator.coordination.coordinate({ planner: () => [] })
    await waitFor(() => performance.length === 1, 'the performance report')
    assert.deepEqual([...new Set(performance[0].agentMetrics.map(r => r.agent))].sort(), nodes.map(n => n.peerId).sort())
    // The coordination figures are on every node's /metrics.
    const exposition = (await coordinator.stats.exposition()).body
    assert.match(exposition, /coordination_success_rate 1/)
    assert.match(exposition, /directive_completion_time_seconds/)
    for (const s of [metrics, critical, perf]) s.unsubscribe()
  } finally {
    await stopAll(nodes)
  }
})
