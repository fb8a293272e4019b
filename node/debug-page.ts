/**
 * The live mesh page served at / by the debug endpoint: one self-contained HTML file (no build
 * step, no framework) that draws /mesh as a graph and keeps it live from /events, with this
 * node's gossip rates per topic (/gossip, then each second from /events) and its recent tasks
 * (/tasks) and its dead letters (a count and the last few, from /dead-letters, then live from
 * /events). With a token, open it as /?token=...: the page passes the token on to every call it makes.
 * Agents are shown by name wherever one was ever seen (mesh map, peers, the hello event); the id
 * is on hover, and shown shortened where no name is known (a client node, an agent long gone).
 */
export const DEBUG_PAGE = /* html */ `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentmesh</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --bg:#0f1419; --panel:#171d24; --line:#2b3642; --text:#d7dde4; --dim:#7d8a97; --accent:#4cc2ff; --ok:#5bd17a; --warn:#ffb454; --gossip:#c792ea; --bad:#ff6b6b; }
  * { box-sizing: border-box } body { margin:0; background:var(--bg); color:var(--text); font:14px/1.4 system-ui, sans-serif; display:flex; flex-direction:column; height:100vh }
  header { display:flex; gap:16px; align-items:center; padding:10px 16px; border-bottom:1px solid var(--line) }
  header h1 { font-size:16px; margin:0 } header .dim { color:var(--dim) } #live { width:9px; height:9px; border-radius:50%; background:var(--warn); display:inline-block }
  main { flex:1; display:flex; min-height:0 } #left { flex:1; min-width:0; display:flex; flex-direction:column } #graph { flex:1; min-height:0 }
  #tables { display:flex; gap:16px; max-height:36vh; overflow:auto; padding:10px 16px; border-top:1px solid var(--line) } #tables section { flex:1; min-width:0 } aside { width:360px; background:var(--panel); border-left:1px solid var(--line); padding:14px; overflow:auto }
  svg { width:100%; height:100% } .edge { stroke:#3a4a5a } .edge.hot { stroke:var(--accent); transition:stroke .1s } .edge.gossip { stroke:var(--gossip); transition:stroke .1s }
  .agent circle { fill:#1f2a36; stroke:var(--accent); stroke-width:2; cursor:pointer } .agent.self circle { stroke:var(--ok) } .agent.coordinator circle { stroke:gold; stroke-width:4 } .agent text.crown { fill:gold; font-size:16px }
  .agent.selected circle { fill:#24425a } .agent text { fill:var(--text); text-anchor:middle; font-size:12px; pointer-events:none } .agent text.roles { fill:var(--dim); font-size:10px }
  .rate { fill:var(--dim); font-size:10px; text-anchor:middle } h2 { font-size:14px; margin:0 0 8px } dl { display:grid; grid-template-columns:90px 1fr; gap:4px 8px; margin:0 0 12px } dt { color:var(--dim) } dd { margin:0; word-break:break-all }
  table { width:100%; border-collapse:collapse; font-size:12px } td, th { padding:3px 4px; border-bottom:1px solid var(--line); vertical-align:top; text-align:left } th { color:var(--dim); font-weight:normal }
  .in { color:var(--ok) } .out { color:var(--accent) } td.num, th.num { text-align:right; font-variant-numeric:tabular-nums } tr.internal td { color:var(--dim) } .who { border-bottom:1px dotted var(--dim) }
  .completed { color:var(--ok) } .failed, .cancelled { color:var(--bad) } .running, .assigned { color:var(--accent) } .paused, .submitted { color:var(--warn) } .dim { color:var(--dim) }
</style></head>
<body>
<header><h1>agentmesh</h1><span id="live" title="live feed"></span><span id="summary" class="dim">loading…</span></header>
<main><div id="left"><div id="graph"><svg id="svg" viewBox="-400 -300 800 600"></svg></div>
<div id="tables"><section><h2>Gossip on this node <span class="dim">msgs/s</span></h2><table id="gossip"></table></section>
<section><h2>Recent tasks <span class="dim">this node's copy of the table</span></h2><table id="tasks"></table></section>
<section><h2>Dead letters <span id="dead-count" class="dim"></span></h2><table id="dead"></table></section>
<section><h2>Circuit breakers <span id="breaker-count" class="dim"></span></h2><table id="breakers"></table></section></div></div>
<aside id="panel"><h2>Select an agent</h2><p class="dim">Click a node in the graph to see its details and recent messages.</p></aside></main>
<script>
const token = new URLSearchParams(location.search).get('token')
const opts = token ? { headers: { authorization: 'Bearer ' + token } } : {}
const q = (p) => token ? p + (p.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : p
const get = async (p) => (await fetch(p, opts)).json()
let mesh = { nodes: [], edges: [] }, self = null, selected = null, hot = new Map(), coord = null, tasks = null, es = null, dead = null
const esc = (s) => String(s).replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
const short = (id) => id.slice(0, 8) + '…' + id.slice(-4)
// Every name seen, kept after its agent leaves, so older messages and tasks still read by name.
const names = new Map()
const learn = (list) => { for (const p of list || []) if (p.peerId && p.name) names.set(p.peerId, p.name) }
const who = (id) => '<span class="who" title="' + esc(id) + '">' + esc(names.get(id) ?? short(id)) + '</span>'

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
    html += '<line class="edge' + (hot.has(key) ? ' ' + hot.get(key).cls : '') + '" data-edge="' + key + '" x1="' + a[0] + '" y1="' + a[1] + '" x2="' + b[0] + '" y2="' + b[1] + '" stroke-width="' + (1 + Math.log2(1 + e.rate)) + '"/>'
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
  learn(peers)
  const p = peers.find(x => x.peerId === selected)
  const mine = msgs.filter(m => n.self || m.source === selected || m.destination === selected).slice(0, 30)
  const links = mesh.edges.filter(e => e.a === selected || e.b === selected).map(e => mesh.nodes.find(x => x.peerId === (e.a === selected ? e.b : e.a))?.name).filter(Boolean)
  let h = '<h2>' + esc(n.name) + (n.self ? ' (this node)' : '') + '</h2><dl><dt>peer id</dt><dd>' + esc(n.peerId) + '</dd><dt>roles</dt><dd>' + esc(n.roles.join(', ')) + '</dd>' +
    '<dt>linked to</dt><dd>' + esc(links.join(', ') || 'none') + '</dd><dt>announced</dt><dd>' + (n.ageMs / 1000).toFixed(1) + ' s ago</dd>'
  if (coord && coord.voters.includes(n.peerId)) h += '<dt>coordination</dt><dd>' + (coord.leader === n.peerId ? 'coordinator, term ' + coord.term : 'voter') + '</dd>'
  if (p) h += '<dt>capabilities</dt><dd>' + esc(p.capabilities.join(', ') || 'none') + '</dd><dt>version</dt><dd>' + esc(p.version) + '</dd>' +
    p.connections.map(c => '<dt>' + c.direction + '</dt><dd>' + esc(c.address) + '<br>rtt ' + (c.rttMs ?? '?') + ' ms · ' + c.streams.length + ' streams</dd>').join('')
  h += '</dl><h2>Recent messages</h2><table>' + mine.map(m => '<tr><td class="' + m.direction + '">' + m.direction + '</td><td>' + esc(m.type) + '<br><span class="dim">' + esc(m.subject) + '</span></td><td>' +
    (m.direction === 'in' ? 'from ' + who(m.source) : 'to ' + (m.destination.startsWith('topic:') ? esc(m.destination) : m.destination.split(',').map(who).join(', '))) + '</td><td>' + (m.latencyMs ?? '') + (m.latencyMs !== undefined ? ' ms' : '') + '</td></tr>').join('') + '</table>'
  document.getElementById('panel').innerHTML = h
}

async function refresh () {
  try {
    // Gossip rates come each second on /events; polled only while the feed is down.
    const live = es && es.readyState === EventSource.OPEN
    ;[mesh, tasks, dead] = await Promise.all([get(q('/mesh')), get(q('/tasks?limit=' + TASK_ROWS)), get(q('/dead-letters?newest=1&limit=' + DEAD_ROWS)),
      refreshCoordinator(), live ? null : get(q('/gossip')).then(drawGossip), get(q('/breakers')).then(drawBreakers)])
    learn(mesh.nodes); draw(); drawTasks(); drawDead(); if (selected) showPanel()
  } catch (e) { document.getElementById('summary').textContent = 'cannot reach the node: ' + e.message }
}

// This node's gossip per topic: agents' topics first, the mesh's own ($...) dimmed below them.
function drawGossip (g) {
  const rows = [...g.topics].sort((a, b) => a.topic.startsWith('$') - b.topic.startsWith('$'))
  document.getElementById('gossip').innerHTML = rows.length === 0
    ? '<tr><td class="dim">no gossip in or out yet</td></tr>'
    : '<tr><th>topic</th><th class="num">in/s</th><th class="num">out/s</th><th class="num">total in / out</th></tr>' + rows.map(t =>
      '<tr data-topic="' + esc(t.topic) + '"' + (t.topic.startsWith('$') ? ' class="internal"' : '') + '><td>' + esc(t.topic) + '</td><td class="num in">' + t.inPerSec +
      '</td><td class="num out">' + t.outPerSec + '</td><td class="num dim">' + t.in + ' / ' + t.out + '</td></tr>').join('')
}

const TASK_ROWS = 10
function drawTasks () {
  const rows = tasks?.recent ?? []
  document.getElementById('tasks').innerHTML = rows.length === 0
    ? '<tr><td class="dim">no task in the table</td></tr>'
    : '<tr><th>task</th><th>state</th><th>agent</th><th>updated</th></tr>' + rows.map(t =>
      '<tr data-task="' + esc(t.task_id) + '"><td>' + esc(t.task_id) + '<br><span class="dim">' + esc(t.type) + '</span></td><td class="state ' + esc(t.status) + '"' +
      (t.reason ? ' title="' + esc(t.reason) + '"' : '') + '>' + esc(t.status) + (t.status === 'running' ? ' ' + Math.round(t.progress * 100) + '%' : '') + '</td><td class="agent">' +
      (t.agent ? who(t.agent) : '<span class="dim">none</span>') + '</td><td class="dim">' + new Date(t.updated_at).toLocaleTimeString() + '</td></tr>').join('')
}

// Dead letters held by this node (the store's count) and the last few, newest first; the
// envelope and error are on /dead-letters/<id> (agentmesh dead-letters show).
const DEAD_ROWS = 5
function drawDead () {
  if (!dead) return
  document.getElementById('dead-count').textContent = dead.total + ' held' + (dead.evicted ? ' · ' + dead.evicted + ' evicted' : '') + (dead.enabled === false ? ' · off' : '')
  const rows = dead.letters
  document.getElementById('dead').innerHTML = rows.length === 0
    ? '<tr><td class="dim">none</td></tr>'
    : '<tr><th>reason</th><th>message</th><th>peer</th><th>died</th></tr>' + rows.map(l =>
      '<tr data-dead="' + esc(l.id) + '"><td class="reason failed">' + esc(l.reason) + '</td><td>' + esc(l.envelope?.subject ?? l.subject ?? '') + '</td><td>' +
      (l.peer ? who(l.peer) : esc(l.topic ?? '')) + '</td><td class="dim">' + new Date(l.deadAt).toLocaleTimeString() + '</td></tr>').join('')
}

// Reliable delivery's breakers that are not closed: calls to these peers fail fast (COM002) until one goes through.
function drawBreakers (list) {
  const rows = list.filter(b => b.state !== 'closed')
  document.getElementById('breaker-count').textContent = rows.length + ' open of ' + list.length
  document.getElementById('breakers').innerHTML = rows.map(b => '<tr><td class="reason failed">' + esc(b.state) + '</td><td>' + who(b.peer) +
    '</td><td class="dim">' + b.failures + ' failures' + (b.lastError ? ' · ' + esc(b.lastError.code) : '') + '</td></tr>').join('')
}

// A dead letter told on /events: counted and listed at once, before the next poll.
function onDead (d) {
  if (!dead || !d.kept) return
  dead.total = d.total
  dead.letters = [{ id: d.id, reason: d.reason, subject: d.subject, peer: d.peer, topic: d.topic, deadAt: d.deadAt }, ...dead.letters.filter(l => l.id !== d.id)].slice(0, DEAD_ROWS)
  drawDead()
}

async function refreshCoordinator () {
  const c = await get(q('/coordinator'))
  // The star goes to a leader only while some node holds office in its term as this node sees it.
  c.inOfficeLeader = c.situation === 'coordinator' || c.situation === 'following' ? c.leader : undefined
  coord = c
}

// A link lights up as a sampled message passes: rpc in blue, gossip in violet.
function flash (a, b, cls) {
  const key = [a, b].sort().join(' '), line = () => document.querySelector('[data-edge="' + key + '"]')
  const was = hot.get(key)
  if (was) { clearTimeout(was.timer); line()?.classList.remove(was.cls) }
  hot.set(key, { cls, timer: setTimeout(() => { hot.delete(key); line()?.classList.remove(cls) }, 300) })
  line()?.classList.add(cls)
}

function onMessage (m) {
  if (!self) return
  if (m.topic === undefined) { const other = m.direction === 'in' ? m.source : m.destination; if (!other.includes(',')) flash(self.peerId, other, 'hot'); return }
  // Gossip in lights the link to its publisher where they are neighbours; gossip out, every link of this node.
  if (m.direction === 'in') flash(self.peerId, m.source, 'gossip')
  else for (const e of mesh.edges) if (e.a === self.peerId || e.b === self.peerId) flash(e.a, e.b, 'gossip')
}

async function start () {
  self = await get(q('/health'))
  learn([self, ...self.peers])
  await refresh()
  setInterval(refresh, 2000)
  es = new EventSource(q('/events'))
  es.onopen = () => { document.getElementById('live').style.background = 'var(--ok)' }
  es.onerror = () => { document.getElementById('live').style.background = 'var(--warn)' }
  es.addEventListener('hello', (e) => { learn(JSON.parse(e.data).peers) })
  es.addEventListener('gossip', (e) => { drawGossip(JSON.parse(e.data)) })
  es.addEventListener('peer:join', (e) => { learn([JSON.parse(e.data)]); refresh() })
  es.addEventListener('coordinator', async () => { await refreshCoordinator(); draw(); if (selected) showPanel() })
  es.addEventListener('peer:leave', (e) => { const id = JSON.parse(e.data).peerId; mesh.nodes = mesh.nodes.filter(n => n.peerId !== id); mesh.edges = mesh.edges.filter(x => x.a !== id && x.b !== id); draw(); refresh() })
  es.addEventListener('message', (e) => { onMessage(JSON.parse(e.data)) })
  es.addEventListener('dead-letter', (e) => { onDead(JSON.parse(e.data)) })
}
start()
</script></body></html>
`
