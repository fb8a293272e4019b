/**
 * Monitoring through real nodes: metric reports on monitoring.metrics on an interval and on
 * demand, alerts on monitoring.alerts.<severity>, collection by the coordinator, and the
 * performance report carrying the agents' reports.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AgentNode } from '../../../surfaces/index.js'
import type { Alert, MetricReport } from '../../../protocols/monitoring/index.js'
import { reportIntervalMs } from '../../../protocols/monitoring/constants.js'
import { fileURLToPath } from 'node:url'
import { coordinateInOffice, officeHolder, Proc, startMesh, stopAll, waitFor } from '../../helpers.js'

const AGENT = fileURLToPath(new URL('../../../harness/fixtures/task-agent.js', import.meta.url))
/** One host's timings (fast failure detection and elections), three voters to start. */
const local = { preset: 'local' as const, coordination: { bootstrapExpect: 3 } }

test('monitoring: metric reports on an interval and on demand, alerts by severity, the coordinator\'s performance report uses them', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, () => ({ ...local, monitoring: { metricsIntervalMs: 300 } }))
  try {
    const [n0, n1, n2] = nodes
    const reports: Array<{ from: string, r: MetricReport }> = []
    const alerts: Alert[] = []
    const metrics = n0.subscribe('monitoring.metrics')
    const critical = n0.subscribe('monitoring.alerts.critical')
    void (async () => { for await (const m of metrics) reports.push({ from: m.from, r: m.payload as MetricReport }) })()
    void (async () => { for await (const m of critical) alerts.push(m.payload as Alert) })()
    await waitFor(() => [n1, n2].every(n => reports.some(x => x.from === n.peerId && x.r.trigger === 'interval')), 'interval reports from the other agents')
    // The latest: one published before the mesh was whole can still arrive after this subscribed.
    await waitFor(() => reports.filter(x => x.from === n1.peerId).length >= 2, 'a second report from n1')
    const one = reports.filter(x => x.from === n1.peerId).at(-1)?.r as MetricReport
    assert.equal(one.agent, n1.peerId)
    assert.equal(one.metrics.peers, 2)
    assert.ok(one.metrics.rss_mb > 0 && one.metrics.active_connections >= 2)

    n2.monitoring.setCustom('queue_depth', 7)
    const asked = await n2.monitoring.report()
    await waitFor(() => reports.some(x => x.r.report_id === asked.report_id), 'the on-demand report')
    assert.equal(asked.trigger, 'demand')
    assert.equal(asked.custom.queue_depth, 7)

    await waitFor(() => n2.topicPeers('monitoring.alerts.critical').subscribers.includes(n0.peerId), 'n2 to see the alert subscription')
    await n2.monitoring.alert({ severity: 'critical', message: 'disk full', labels: { disk: '/var' } })
    await waitFor(() => alerts.length === 1, 'the critical alert')
    assert.equal(alerts[0].source, n2.peerId)
    assert.deepEqual(alerts[0].labels, { disk: '/var' })
    await assert.rejects(n2.monitoring.alert({ severity: 'apocalyptic' as 'critical', message: 'x' }), (e: Error & { code?: string }) => e.code === 'MSG001')
    assert.match((await n2.stats.exposition()).body, /alerts_total\{severity="critical"\} 1/)

    // The coordinator collects every agent's report and its performance report carries them.
    const coordinator = await officeHolder(nodes, 'a coordinator', 20_000)
    const collected = await coordinator.monitoring.collect(nodes.map(n => n.peerId), 2_000)
    assert.deepEqual(collected.map(r => r.agent).sort(), nodes.map(n => n.peerId).sort())
    const perf = n0.subscribe('coordination.performance')
    const performance: Array<{ agentMetrics: MetricReport[] }> = []
    void (async () => { for await (const m of perf) performance.push(m.payload as { agentMetrics: MetricReport[] }) })()
    await waitFor(() => coordinator === n0 || coordinator.topicPeers('coordination.performance').subscribers.includes(n0.peerId), 'the coordinator to see the subscription')
    // A round whose directives all complete, then one where a directive fails on every attempt.
    for (const n of nodes) {
      n.onDirective('assign_task', () => 'ok')
      n.onDirective('form_coalition', () => { throw new Error('never') })
    }
    const done = await coordinator.coordination.coordinate({ planner: ({ statuses }) => statuses.map(s => ({ target: s.agent, action: 'assign_task', parameters: {} })) })
    assert.equal(done.outcome, 'completed')
    await waitFor(() => performance.length === 1, 'the performance report')
    assert.deepEqual([...new Set(performance[0].agentMetrics.map(r => r.agent))].sort(), nodes.map(n => n.peerId).sort())
    assert.match((await coordinator.stats.exposition()).body, /^coordination_success_rate 1$/m)
    const failing = nodes.find(n => n !== coordinator) as AgentNode
    const partial = await coordinator.coordination.coordinate({
      planner: ({ statuses }) => statuses.map(s => ({ target: s.agent, action: s.agent === failing.peerId ? 'form_coalition' : 'assign_task', parameters: {} }))
    })
    assert.equal(partial.outcome, 'partial')
    // The coordination figures are on every node's /metrics: one round of two completed, and a
    // sample line (not the # HELP line) for each directive type timed.
    const exposition = (await coordinator.stats.exposition()).body
    assert.match(exposition, /^coordination_success_rate 0\.5$/m)
    const count = (type: string): number => Number(new RegExp(`^directive_completion_time_seconds_count\\{directive_type="${type}"\\} (\\d+)$`, 'm').exec(exposition)?.[1])
    assert.equal(count('assign_task'), 5, 'three directives, then two')
    assert.equal(count('form_coalition'), 3, 'three failed attempts, each timed')
    for (const s of [metrics, critical, perf]) s.unsubscribe()
  } finally {
    await stopAll(nodes)
  }
})

test('monitoring: the performance report carries every agent alive, those whose reports the coordinator never heard asked for one', { timeout: 3 * 60_000 }, async () => {
  // Reports every minute: none is published before the round, as at 200 agents (one every 200 s)
  // or for an agent none of whose connections hears them.
  const nodes = await startMesh(3, () => ({ ...local, monitoring: { metricsIntervalMs: 60_000 } }))
  try {
    const coordinator = await officeHolder(nodes, 'a coordinator', 20_000)
    const other = nodes.find(n => n !== coordinator) as AgentNode
    const perf = other.subscribe('coordination.performance')
    const performance: Array<{ agentMetrics: MetricReport[] }> = []
    void (async () => { for await (const m of perf) performance.push(m.payload as { agentMetrics: MetricReport[] }) })()
    await waitFor(() => coordinator.topicPeers('coordination.performance').subscribers.includes(other.peerId), 'the coordinator to see the subscription')
    assert.deepEqual(coordinator.monitoring.reports(), [], 'no report heard before the round')
    const done = await coordinateInOffice(coordinator, { planner: () => [] })
    assert.equal(done.outcome, 'completed')
    await waitFor(() => performance.length === 1, 'the performance report')
    const agents = performance[0].agentMetrics.map(r => r.agent).sort()
    assert.deepEqual(agents, nodes.map(n => n.peerId).sort())
    assert.ok(performance[0].agentMetrics.every(r => r.trigger === 'demand'))
  } finally {
    await stopAll(nodes)
  }
})

test('monitoring: the voters hear every agent\'s report, other agents do not unless told to (hearReports, hear())', { timeout: 3 * 60_000 }, async () => {
  const quiet = { meshAnnounceIntervalMs: 0 }
  // Three voters (n0-n2), an agent that cannot vote (n3), and one that cannot and hears all (n4).
  const nodes = await startMesh(5, (i) => ({
    ...local,
    ...quiet,
    coordination: { bootstrapExpect: 3, maxVoters: 3, ...(i >= 3 ? { eligible: false } : {}) },
    monitoring: { metricsIntervalMs: 300, ...(i === 4 ? { hearReports: 'all' as const } : {}) }
  }))
  try {
    const [n0, n1, n2, n3, n4] = nodes
    await waitFor(() => nodes.filter(n => n.coordinator().inOffice).length === 1, 'a coordinator', 20_000)
    await waitFor(() => [n0, n1, n2].every(n => n.monitoring.hears), 'the voters to hear reports')
    assert.equal(n3.monitoring.hears, false)
    assert.equal(n4.monitoring.hears, true)
    const coordinator = await officeHolder(nodes, 'a coordinator', 20_000)
    assert.ok([n0, n1, n2].includes(coordinator))
    // The coordinator (a voter) keeps every agent's report, the non-voter's too; n3 keeps only its own.
    await waitFor(() => nodes.every(n => coordinator.monitoring.reports().some(r => r.agent === n.peerId)), 'every report at the coordinator')
    await waitFor(() => nodes.every(n => n4.monitoring.reports().some(r => r.agent === n.peerId)), 'every report at n4 (hearReports all)')
    assert.deepEqual(n3.monitoring.reports().map(r => r.agent).filter(a => a !== n3.peerId), [])
    await waitFor(() => !coordinator.topicPeers('monitoring.metrics').subscribers.includes(n3.peerId), 'n3 not to be a subscriber')
    // Told to, n3 hears them, and goes on hearing when the coordinator and the voters change.
    n3.monitoring.hear(true)
    await waitFor(() => [n0, n1, n2, n4].every(n => n3.monitoring.reports().some(r => r.agent === n.peerId)), 'every report at n3')
    await coordinator.stop()
    const rest = nodes.filter(n => n !== coordinator)
    const successor = await officeHolder(rest, 'a new coordinator followed by the rest', 20_000)
    assert.equal(successor.monitoring.hears, true)
    assert.equal(n3.monitoring.hears, true, 'hear(true) outlives a change of coordinator')
    // Told to stop, it forgets them.
    n3.monitoring.hear(false)
    assert.equal(n3.monitoring.hears, false)
    assert.deepEqual(n3.monitoring.reports().map(r => r.agent), [n3.peerId])
  } finally {
    await stopAll(nodes)
  }
})

test('monitoring: an agent makes no periodic report while no one connected to it hears them, and does once someone does', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(2, () => ({ ...local, meshAnnounceIntervalMs: 0, coordination: { eligible: false }, monitoring: { metricsIntervalMs: 100 } }))
  try {
    const [n0, n1] = nodes
    const published = (): number => (n1.stats.snapshot().messages_total ?? [])
      .filter(e => e.labels.direction === 'out' && e.labels.type === 'EVENT').reduce((a, e) => a + e.value, 0)
    await new Promise(resolve => setTimeout(resolve, 1_500))
    assert.equal(published(), 0, 'no voter, nobody hears: ~15 intervals and no report')
    const heard: MetricReport[] = []
    const sub = n0.subscribe('monitoring.metrics')
    void (async () => { for await (const m of sub) heard.push(m.payload as MetricReport) })()
    await waitFor(() => heard.filter(r => r.agent === n1.peerId && r.trigger === 'interval').length >= 2, 'n1\'s reports once n0 listens')
    assert.ok(published() >= 2)
    sub.unsubscribe()
  } finally {
    await stopAll(nodes)
  }
})

test('monitoring: the coordinator alerts on monitoring.alerts.warning when an agent goes offline (killed, not left)', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, () => ({ ...local }))
  // An agent process that takes no part in elections: its death costs no quorum.
  const worker = new Proc([AGENT], {
    AGENTMESH_NAME: 'doomed',
    AGENTMESH_MESH: nodes[0].config.mesh,
    AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0',
    AGENTMESH_BOOTSTRAP: nodes[0].addresses()[0],
    AGENTMESH_MDNS: 'false',
    AGENTMESH_LOG_LEVEL: 'silent',
    AGENTMESH_COORDINATION_ELIGIBLE: 'false',
    AGENTMESH_PRESET: 'local'
  })
  try {
    const doomed = (await worker.json(o => o.event === 'started', 'the worker to start')).peerId as string
    await waitFor(() => nodes.every(n => n.members().find(m => m.peerId === doomed)?.state === 'alive'), 'every node to see the worker alive')
    const coordinator = await officeHolder(nodes, 'a coordinator', 20_000)
    const watcher = nodes.find(n => n !== coordinator) as AgentNode
    const warnings: Array<{ from: string, alert: Alert }> = []
    const sub = watcher.subscribe('monitoring.alerts.warning')
    void (async () => { for await (const m of sub) warnings.push({ from: m.from, alert: m.payload as Alert }) })()
    await waitFor(() => coordinator.topicPeers('monitoring.alerts.warning').subscribers.includes(watcher.peerId), 'the coordinator to see the subscription')

    worker.child.kill('SIGKILL')
    await waitFor(() => watcher.members().find(m => m.peerId === doomed)?.state === 'offline', 'the killed worker to be offline')
    await waitFor(() => warnings.some(w => w.alert.labels.agent === doomed), 'the offline alert')
    const w = warnings.find(x => x.alert.labels.agent === doomed) as { from: string, alert: Alert }
    assert.equal(w.from, coordinator.peerId, 'the coordinator published it')
    assert.equal(w.alert.source, coordinator.peerId)
    assert.equal(w.alert.severity, 'warning')
    assert.equal(w.alert.labels.reason, 'offline')
    assert.match(w.alert.message, /doomed.*offline/)
    sub.unsubscribe()
  } finally {
    await worker.stop('SIGKILL')
    await stopAll(nodes)
  }
})

test('monitoring: beyond metricsScaleFrom agents the report interval grows with the mesh, so the mesh\'s report rate stays flat', { timeout: 3 * 60_000 }, () => {
  // Up to the threshold the set interval holds: a small mesh reports as configured.
  assert.equal(reportIntervalMs(10_000, 1, 10), 10_000)
  assert.equal(reportIntervalMs(10_000, 10, 10), 10_000)
  // Beyond it, agents / interval (the reports each agent receives a second) stays at 10 / 10 s.
  for (const n of [11, 50, 200, 1_000]) assert.equal(Math.round(n / reportIntervalMs(10_000, n, 10) * 1000 * 1000) / 1000, 1)
  // 0: a fixed interval whatever the size.
  assert.equal(reportIntervalMs(10_000, 200, 0), 10_000)
})
