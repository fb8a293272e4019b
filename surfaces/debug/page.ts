/**
 * The live mesh page served at / by the debug endpoint: one self-contained HTML file (no build
 * step, no framework, no chart library: sparklines are inline SVG) assembled from the parts in
 * surfaces/debug/page/: the graph (graph.ts: every agent up to 16, groups beyond), the list of agents
 * with search and sparklines (list.ts), the tables and side panel (tables.ts), the styles.
 * This file holds the page's frame and its refresh loop.
 *
 * What it polls, and how often, is what keeps its traffic bounded at any mesh size: every 2 s
 * the map folded into groups (/mesh/groups), the coordinator, the last tasks, dead letters and
 * breakers; every 5 s (the rate rings' bucket) one page of the agent list with sparklines and
 * /rates; the whole map (/mesh?limit=500) only while it is small enough to draw agent by agent,
 * and an open group's members only when the map's version changes. Gossip rates per topic come
 * each second on /events. With a token, open it as /?token=...: the page passes it on.
 * Agents are shown by name wherever one was ever seen; the id is on hover.
 */
import { PAGE_STYLE } from './page/style.js'
import { GRAPH_SCRIPT } from './page/graph.js'
import { LIST_SCRIPT } from './page/list.js'
import { TABLES_SCRIPT } from './page/tables.js'

const MAIN_SCRIPT = /* js */ `
const token = new URLSearchParams(location.search).get('token')
const opts = token ? { headers: { authorization: 'Bearer ' + token } } : {}
const q = (p) => token ? p + (p.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : p
const get = async (p) => { const r = await fetch(p, opts); if (!r.ok) throw new Error(p + ': HTTP ' + r.status); return r.json() }
let mesh = { nodes: [], edges: [] }, groups = null, self = null, selected = null, hot = new Map(), coord = null, tasks = null, es = null, dead = null, rates = null, version = null
// Open groups and their agents; every agent fetched so far (for the panel), by peer id.
const expanded = new Set(), members = new Map(), known = new Map()
const esc = (s) => String(s).replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
const short = (id) => id.slice(0, 8) + '…' + id.slice(-4)
// Every name seen, kept after its agent leaves, so older messages and tasks still read by name.
const names = new Map()
const learn = (list) => { for (const p of list || []) if (p.peerId && p.name) names.set(p.peerId, p.name) }
const who = (id) => '<span class="who" title="' + esc(id) + '">' + esc(names.get(id) ?? short(id)) + '</span>'

function select (id) { selected = id; draw(); drawList(); showPanel(true) }

async function refresh () {
  try {
    // Gossip rates come each second on /events; polled only while the feed is down.
    const live = es && es.readyState === EventSource.OPEN
    ;[groups, tasks, dead] = await Promise.all([get(q('/mesh/groups')), get(q('/tasks?limit=' + TASK_ROWS)), get(q('/dead-letters?newest=1&limit=' + DEAD_ROWS)),
      refreshCoordinator(), live ? null : get(q('/gossip')).then(drawGossip), get(q('/breakers')).then(drawBreakers)])
    for (const g of groups.groups) learn(g.members)
    if (graphMode() === 'agents') { mesh = await get(q('/mesh?limit=500')); learn(mesh.nodes); for (const n of mesh.nodes) known.set(n.peerId, n) }
    if (groups.version !== version) {
      version = groups.version
      for (const id of [...expanded]) if (groups.groups.some(g => g.id === id)) await loadMembers(id); else { expanded.delete(id); members.delete(id) }
      await loadList()
    }
    draw(); drawTasks(); drawDead()
  } catch (e) { document.getElementById('summary').textContent = 'cannot reach the node: ' + e.message }
}

// Each bucket of the rate rings: the sparklines, the list's page, the selected agent.
async function slow () {
  try {
    rates = await get(q('/rates?limit=10'))
    drawRates(); if (lastGossip) drawGossip(lastGossip)
    await loadList()
    if (selected) await showPanel(false)
  } catch (e) { document.getElementById('summary').textContent = 'cannot reach the node: ' + e.message }
}

// Joins and leaves come in waves at scale: one refresh for a wave.
let soonTimer = null
const soon = () => { if (soonTimer === null) soonTimer = setTimeout(() => { soonTimer = null; refresh() }, 500) }

async function start () {
  self = await get(q('/health'))
  learn([self, ...self.peers])
  document.getElementById('search').addEventListener('input', (e) => { onSearch(e.target.value) })
  document.getElementById('sort').addEventListener('change', (e) => { listSort = e.target.value; listOffset = 0; loadList() })
  await refresh()
  await slow()
  setInterval(refresh, 2000)
  setInterval(slow, 5000)
  es = new EventSource(q('/events'))
  es.onopen = () => { document.getElementById('live').style.background = 'var(--ok)' }
  es.onerror = () => { document.getElementById('live').style.background = 'var(--warn)' }
  es.addEventListener('hello', (e) => { learn(JSON.parse(e.data).peers) })
  es.addEventListener('gossip', (e) => { drawGossip(JSON.parse(e.data)) })
  es.addEventListener('peer:join', (e) => { learn([JSON.parse(e.data)]); soon() })
  es.addEventListener('coordinator', async () => { await refreshCoordinator(); draw(); if (selected) showPanel(false) })
  es.addEventListener('peer:leave', (e) => { const id = JSON.parse(e.data).peerId; mesh.nodes = mesh.nodes.filter(n => n.peerId !== id); mesh.edges = mesh.edges.filter(x => x.a !== id && x.b !== id); draw(); soon() })
  es.addEventListener('message', (e) => { onMessage(JSON.parse(e.data)) })
  es.addEventListener('dead-letter', (e) => { onDead(JSON.parse(e.data)) })
}
`

export const DEBUG_PAGE = /* html */ `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentmesh</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${PAGE_STYLE}</style></head>
<body>
<header><h1>agentmesh</h1><span id="live" title="live feed"></span><span id="summary" class="dim">loading…</span><span id="mesh-rates"></span></header>
<main><div id="left"><div id="graph"><svg id="svg" viewBox="-400 -300 800 600"></svg></div>
<div id="tables"><section><h2>Gossip on this node <span class="dim">msgs/s</span></h2><table id="gossip"></table></section>
<section><h2>Recent tasks <span class="dim">this node's copy of the table</span></h2><table id="tasks"></table></section>
<section><h2>Dead letters <span id="dead-count" class="dim"></span></h2><table id="dead"></table></section>
<section><h2>Circuit breakers <span id="breaker-count" class="dim"></span></h2><table id="breakers"></table></section></div></div>
<aside><section id="agents"><h2>Agents <span id="agent-count" class="dim"></span>
<select id="sort" title="order of the list"><option value="rate">busiest first</option><option value="name">by name</option></select></h2>
<input id="search" type="search" placeholder="search by name, peer id or role" autocomplete="off"><div id="filter"></div>
<div id="agent-rows"><table id="agent-list"></table></div><div id="pager"></div></section>
<section id="panel"><h2>Select an agent</h2><p class="dim">Click an agent in the graph or the list to see its details and recent messages; click a group to open it.</p></section></aside></main>
<script>
${MAIN_SCRIPT}
${GRAPH_SCRIPT}
${LIST_SCRIPT}
${TABLES_SCRIPT}
start()
</script></body></html>
`
