import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { startMesh, stopAll, waitFor } from '../helpers.js'
import { millisecondsToSeconds } from '../../node/stats.js'
import { skipWithout } from '../requirements.js'

/** promtool comes from Debian's prometheus package; .ci/run installs it. */
function promtool (text: string): { status: number | null, output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  if (r.error !== undefined) throw new Error(`promtool check metrics: ${r.error.message}`)
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

// The exposition is checked everywhere; only promtool's verdict on it needs promtool, and is
// skipped (with the install line) where it is missing.
test('/metrics: the spec\'s metrics and libp2p\'s, in a Prometheus exposition that promtool accepts', { timeout: 3 * 60_000 }, async (t) => {
  const [a, b] = await startMesh(2, (i) => i === 0 ? { debug: '127.0.0.1:0' } : {})
  try {
    a.handle('echo', (x) => x)
    for (let i = 0; i < 5; i++) await b.request(a.peerId, 'echo', i)
    await assert.rejects(b.request(a.peerId, 'missing', null))
    const sub = a.subscribe('m')
    await waitFor(() => b.topicPeers('m').subscribers.length === 1, 'the subscription')
    await b.publish('m', 'x')
    await waitFor(() => a.stats.get('messages_total', { type: 'EVENT', direction: 'in' }) === 1, 'the event')
    sub.unsubscribe()

    const res = await fetch(`${a.debugUrl as string}/metrics`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
    const text = await res.text()
    const value = (line: RegExp): number => Number(new RegExp(`^${line.source} (\\S+)$`, 'm').exec(text)?.[1])
    assert.equal(value(/messages_total\{direction="in",type="REQUEST",status="ok"\}/), 6) // 5 echoes and the card exchange
    assert.equal(value(/messages_total\{direction="in",type="REQUEST",status="unknown_command"\}/), 1)
    assert.equal(value(/rpc_errors_total\{code="CMD001",reason="UnknownCommandError"\}/), 1)
    assert.equal(value(/active_connections/), 1)
    assert.ok(value(/message_latency_seconds_count\{operation="handle",type="REQUEST"\}/) >= 5)
    assert.equal(value(/message_latency_seconds_count\{operation="deliver",type="EVENT"\}/), 1)
    assert.match(text, /^libp2p_data_transfer_bytes_total\{protocol="\/agentmesh\/rpc\/1\.0\.0 received"\} \d+/m)
    await t.test('promtool check metrics accepts the exposition', (st) => {
      if (skipWithout(st, 'promtool')) return
      const check = promtool(text)
      assert.equal(check.status, 0, check.output)
    })
  } finally {
    await stopAll([a, b])
  }
})

test('/metrics: a duration libp2p gives in milliseconds is exposed in seconds, which promtool accepts', { timeout: 3 * 60_000 }, (t) => {
  // libp2p's ping histogram as prom-client writes it once the connection monitor has pinged (~30 s after start).
  const ms = [
    '# HELP libp2p_connection_monitor_ping_time_milliseconds Ping round trip time',
    '# TYPE libp2p_connection_monitor_ping_time_milliseconds histogram',
    'libp2p_connection_monitor_ping_time_milliseconds_bucket{le="5"} 1',
    'libp2p_connection_monitor_ping_time_milliseconds_bucket{le="250"} 3',
    'libp2p_connection_monitor_ping_time_milliseconds_bucket{le="+Inf"} 3',
    'libp2p_connection_monitor_ping_time_milliseconds_sum 412',
    'libp2p_connection_monitor_ping_time_milliseconds_count 3',
    ''
  ].join('\n')
  const s = millisecondsToSeconds(ms)
  assert.match(s, /^# TYPE libp2p_connection_monitor_ping_time_seconds histogram$/m)
  assert.match(s, /^libp2p_connection_monitor_ping_time_seconds_bucket\{le="0.005"\} 1$/m)
  assert.match(s, /^libp2p_connection_monitor_ping_time_seconds_bucket\{le="0.25"\} 3$/m)
  assert.match(s, /^libp2p_connection_monitor_ping_time_seconds_bucket\{le="\+Inf"\} 3$/m)
  assert.match(s, /^libp2p_connection_monitor_ping_time_seconds_sum 0.412$/m)
  assert.match(s, /^libp2p_connection_monitor_ping_time_seconds_count 3$/m)
  assert.doesNotMatch(s, /milliseconds/)
  if (skipWithout(t, 'promtool')) return
  assert.notEqual(promtool(ms).status, 0, 'promtool refuses the milliseconds')
  const checked = promtool(s)
  assert.equal(checked.status, 0, checked.output)
})
