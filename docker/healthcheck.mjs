// HEALTHCHECK of the agentmesh image, and the Kubernetes probes (docker/k8s/): asks the node's
// debug endpoint for /health. Ready (the default) when the node is started: "ok", or "alone" for
// a first node that nobody has joined yet. With --live, alive when /health answers at all and the
// node is not stopped: a node still starting, or waiting for peers, is not restarted for it.
const listen = process.env.AGENTMESH_DEBUG ?? '127.0.0.1:8001'
const port = listen.slice(listen.lastIndexOf(':') + 1)
const headers = process.env.AGENTMESH_DEBUG_TOKEN ? { authorization: `Bearer ${process.env.AGENTMESH_DEBUG_TOKEN}` } : {}
const live = process.argv.includes('--live')
try {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { headers, signal: AbortSignal.timeout(2500) })
  const health = await res.json()
  const passed = live ? health.status !== 'stopped' : health.status === 'ok' || health.status === 'alone'
  process.exit(res.ok && passed ? 0 : 1)
} catch {
  process.exit(1)
}
