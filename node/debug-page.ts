/**
 * The live mesh page served at / by the debug endpoint: one self-contained HTML file (no build
 * step, no framework) that draws /mesh as a graph and keeps it live from /events. With a token,
 * open it as /?token=...: the page passes the token on to every call it makes.
 */
export const DEBUG_PAGE = /* html */ `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentmesh</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --bg:#0f1419; --panel:#171d24; --line:#2b3642; --text:#d7dde4; --dim:#7d8a97; --accent:#4cc2ff; --ok:#5bd17a; --warn:#ffb454; }
  * { box-sizing: border-box } body { margin:0; background:var(--bg); color:var(--text); font:14px/1.4 system-ui, sans-serif; display:flex; flex-direction:column; height:100vh }
  header { display:flex; gap:16px; align-items:center; padding:10px 16px; border-bottom:1px solid var(--line) }
  header h1 { font-size:16px; margin:0 } header .dim { color:var(--dim) } #live { width:9px; height:9px; border-radius:50%; background:var(--warn); display:inline-block }
  main { flex:1; display:flex; min-height:0 } #graph { flex:1; min-width:0 } aside { width:360px; background:var(--panel); border-left:1px solid var(--line); padding:14px; overflow:auto }
  svg { width:100%; height:100% } .edge { stroke:#3a4a5a } .edge.hot { stroke:var(--accent); transition:stroke .1s }
  .agent circle { fill:#1f2a36; stroke:var(--accent); stroke-width:2; cursor:pointer } .agent.self circle { stroke:var(--ok) } .agent.coordinator circle { stroke:gold; stroke-width:4 } .agent text.crown { fill:gold; font-size:16px }
  .agent.selected circle { fill:#24425a } .agent text { fill:var(--text); text-anchor:middle; font-size:12px; pointer-events:none } .agent text.roles { fill:var(--dim); font-size:10px }
  .rate { fill:var(--dim); font-size:10px; text-anchor:middle } h2 { font-size:14px; margin:0 0 8px } dl { display:grid; grid-template-columns:90px 1fr; gap:4px 8px; margin:0 0 12px } dt { color:var(--dim) } dd { margin:0; word-break:break-all }
  table { width:100%; border-collapse:collapse; font-size:12px } td { padding:3px 4px; border-bottom:1px solid var(--line); vertical-align:top } .in { color:var(--ok) } .out { color:var(--accent) }
</style></head>
<body>
<header><h1>agentmesh</h1><span id="live" title="live feed"></span><span id="summary" class="dim">loading…</span></header>
<main><div id="graph"><svg id="svg" viewBox="-400 -300 800 600"></svg></div>
<aside id="panel"><h2>Select an agent</h2><p class="dim">Click a node in the graph to see its details and recent messages.</p></aside></main>
<script>
const token = new URLSearchParams(location.search).get('token')
const opts = token ? { headers: { authorization: 'Bearer ' + token } } : {}
const q = (p) => token ? p + (p.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : p
const get = async (p) => (await fetch(p, opts)).json()
let mesh = { nodes: [], edges: [] }, self = null, selected = null, hot = new Map(), coord = null, tasks = null
const esc = (s) => String(s).replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
const short = (id) => id.slice(0, 8) + '…' + id.slice(-4)

function layout (nodes) {
  const sorted = [...nodes].sort((a, b) => (b.self - a.self) || a.name.localeCompare(b.name))
  const r = Math.min(240, 60 + sorted.length * 22), pos = new Map()
  sorted.forEach((n, i) => { const t = -Math.PI / 2 + 2 * Math.PI * i / sorted.length; pos.set(n.peerId, sorted.length === 1 ? [0, 0] : [r * Math.cos(t), r * Math.sin(t)]) })
  return pos
}

function draw () {
  const pos = layout(mesh.nodes), svg = document.getElementById('svg')
  let html = ''
  for (const e of mesh.edges) {
    const a = pos.get(e.a), b = pos.get(e.b); if (!a || !b) continue
    const key = [e.a, e.b].sort().join(' ')
    html += '<line class="edge' + (hot.has(key) ? ' hot' : '') + '" data-edge="' + key + '" x1="' + a[0] + '" y1="' + a[1] + '" x2="' + b[0] + '" y2="' + b[1] + '" stroke-width="' + (1 + Math.log2(1 + e.rate)) + '"/>'
    // Labels sit a third of the way along, so those of crossing links do not meet in the middle.
    if (e.rate > 0) html += '<text class="rate" x="' + (a[0] * 0.65 + b[0] * 0.35) + '" y="' + (a[1] * 0.65 + b[1] * 0.35 - 4) + '">' + e.rate + '/s</text>'
  }
  for (const n of mesh.nodes) {
    const [x, y] = pos.get(n.peerId)
    const cls = ['agent', n.self ? 'self' : '', coord && coord.inOfficeLeader === n.peerId ? 'coordinator' : '', selected === n.peerId ? 'selected' : ''].join(' ')
    html += '<g class="' + cls + '" data-peer="' + esc(n.peerId) + '" data-name="' + esc(n.name) + '" transform="translate(' + x + ',' + y + ')">' +
      '<circle r="22"></circle>' + (coord && coord.inOfficeLeader === n.peerId ? '<text class="crown" y="5">★</text>' : '') + '<text y="38">' + esc(n.name) + '</text><text class="roles" y="51">' + esc(n.roles.join(', ')) + '</text></g>'
  }
  svg.innerHTML = html
  for (const g of svg.querySelectorAll('.agent')) g.addEventListener('click', () => { selected = g.dataset.peer; draw(); showPanel() })
  const s = document.getElementById('summary')
  s.textContent = (self ? self.name + ' in mesh "' + self.mesh + '" · ' : '') + mesh.nodes.length + ' agents · ' + mesh.edges.length + ' links · ' + coordText() + tasksText() + ' · map age ' + (mesh.ageMs / 1000).toFixed(1) + ' s'
}

// The task table as this node holds it (every voter has a copy), by state; /tasks has the rest.
function tasksText () {
  if (!tasks || tasks.table.records === 0) return ''
  const order = ['submitted', 'assigned', 'running', 'paused', 'completed', 'failed', 'cancelled']
  return ' · tasks: ' + order.filter(k => tasks.table.counts[k]).map(k => tasks.table.counts[k] + ' ' + k).join(', ')
}

// What this node knows of the coordinator: the leader it follows (or is), its term, and why
// there is none when its side of the mesh lacks a quorum.
function coordText () {
  if (!coord) return 'coordinator: ?'
  const name = mesh.nodes.find(n => n.peerId === coord.leader)?.name ?? coord.leaderName ?? (coord.leader ? short(coord.leader) : '')
  if (coord.situation === 'coordinator' || coord.situation === 'following') return 'coordinator ' + name + ' (term ' + coord.term + ')'
  if (coord.situation === 'no-quorum') return 'no coordinator: no quorum here (' + coord.quorum.reachable + ' of ' + coord.quorum.needed + ' voters needed)'
  if (coord.situation === 'no-voter-set') return 'no coordinator yet: waiting for the first voters'
  return 'electing a coordinator (term ' + coord.term + ')'
}

async function showPanel () {
  const n = mesh.nodes.find(x => x.peerId === selected); if (!n) return
  const [peers, msgs] = await Promise.all([get(q('/peers')), get(q('/messages?limit=200'))])
  const p = peers.find(x => x.peerId === selected)
  const mine = msgs.filter(m => n.self || m.source === selected || m.destination === selected).slice(0, 30)
  const links = mesh.edges.filter(e => e.a === selected || e.b === selected).map(e => mesh.nodes.find(x => x.peerId === (e.a === selected ? e.b : e.a))?.name).filter(Boolean)
  let h = '<h2>' + esc(n.name) + (n.self ? ' (this node)' : '') + '</h2><dl><dt>peer id</dt><dd>' + esc(n.peerId) + '</dd><dt>roles</dt><dd>' + esc(n.roles.join(', ')) + '</dd>' +
    '<dt>linked to</dt><dd>' + esc(links.join(', ') || 'none') + '</dd><dt>announced</dt><dd>' + (n.ageMs / 1000).toFixed(1) + ' s ago</dd>'
  if (coord && coord.voters.includes(n.peerId)) h += '<dt>coordination</dt><dd>' + (coord.leader === n.peerId ? 'coordinator, term ' + coord.term : 'voter') + '</dd>'
  if (p) h += '<dt>capabilities</dt><dd>' + esc(p.capabilities.join(', ') || 'none') + '</dd><dt>version</dt><dd>' + esc(p.version) + '</dd>' +
    p.connections.map(c => '<dt>' + c.direction + '</dt><dd>' + esc(c.address) + '<br>rtt ' + (c.rttMs ?? '?') + ' ms · ' + c.streams.length + ' streams</dd>').join('')
  h += '</dl><h2>Recent messages</h2><table>' + mine.map(m => '<tr><td class="' + m.direction + '">' + m.direction + '</td><td>' + esc(m.type) + '<br><span class="dim">' + esc(m.subject) + '</span></td><td>' +
    (m.direction === 'in' ? 'from ' + esc(short(m.source)) : 'to ' + esc(m.destination.startsWith('topic:') ? m.destination : short(m.destination))) + '</td><td>' + (m.latencyMs ?? '') + (m.latencyMs !== undefined ? ' ms' : '') + '</td></tr>').join('') + '</table>'
  document.getElementById('panel').innerHTML = h
}

async function refresh () {
  try { [mesh, tasks] = await Promise.all([get(q('/mesh')), get(q('/tasks?limit=1')), refreshCoordinator()]); draw(); if (selected) showPanel() } catch (e) { document.getElementById('summary').textContent = 'cannot reach the node: ' + e.message }
}

async function refreshCoordinator () {
  const c = await get(q('/coordinator'))
  // The star goes to a leader only while some node holds office in its term as this node sees it.
  c.inOfficeLeader = c.situation === 'coordinator' || c.situation === 'following' ? c.leader : undefined
  coord = c
}

function flash (a, b) {
  const key = [a, b].sort().join(' ')
  clearTimeout(hot.get(key)); hot.set(key, setTimeout(() => { hot.delete(key); document.querySelector('[data-edge="' + key + '"]')?.classList.remove('hot') }, 300))
  document.querySelector('[data-edge="' + key + '"]')?.classList.add('hot')
}

async function start () {
  self = await get(q('/health'))
  await refresh()
  setInterval(refresh, 2000)
  const es = new EventSource(q('/events'))
  es.onopen = () => { document.getElementById('live').style.background = 'var(--ok)' }
  es.onerror = () => { document.getElementById('live').style.background = 'var(--warn)' }
  es.addEventListener('peer:join', refresh)
  es.addEventListener('coordinator', async () => { await refreshCoordinator(); draw(); if (selected) showPanel() })
  es.addEventListener('peer:leave', (e) => { const id = JSON.parse(e.data).peerId; mesh.nodes = mesh.nodes.filter(n => n.peerId !== id); mesh.edges = mesh.edges.filter(x => x.a !== id && x.b !== id); draw(); refresh() })
  es.addEventListener('message', (e) => { const m = JSON.parse(e.data); const other = m.direction === 'in' ? m.source : m.destination; if (self && !other.startsWith('topic:')) flash(self.peerId, other) })
}
start()
</script></body></html>
`
