// HEALTHCHECK of the agentmesh image: asks the node's debug endpoint for /health. Healthy when
// the node is started ("ok", or "alone" for a first node that nobody has joined yet).
const listen = process.env.AGENTMESH_DEBUG ?? '127.0.0.1:8001'
const port = listen.slice(listen.lastIndexOf(':') + 1)
const headers = process.env.AGENTMESH_DEBUG_TOKEN ? { authorization: `Bearer ${process.env.AGENTMESH_DEBUG_TOKEN}` } : {}
try {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { headers, signal: AbortSignal.timeout(2500) })
  const health = await res.json()
  process.exit(res.ok && (health.status === 'ok' || health.status === 'alone') ? 0 : 1)
} catch {
  process.exit(1)
}
