/**
 * The live page's tables and side panel (browser script, put into the page by surfaces/debug/page.ts):
 * the summary's coordinator and task counts, gossip per topic with sparklines, recent tasks, dead
 * letters, circuit breakers, and the selected agent's details.
 */
export const TABLES_SCRIPT = /* js */ `
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
  const name = names.get(coord.leader) ?? coord.leaderName ?? (coord.leader ? short(coord.leader) : '')
  if (coord.situation === 'coordinator' || coord.situation === 'following') return 'coordinator ' + name + ' (term ' + coord.term + ')'
  if (coord.situation === 'no-quorum') return 'no coordinator: no quorum here (' + coord.quorum.reachable + ' of ' + coord.quorum.needed + ' voters needed)'
  if (coord.situation === 'no-voter-set') return 'no coordinator yet: waiting for the first voters'
  return 'electing a coordinator (term ' + coord.term + ')'
}

// The selected agent: its node on the map with its sparklines (GET /mesh?q=<its id>), its card and
// connections (GET /peers, fetched when it is selected) and the recent messages with it (the last
// 200 of this node's when selected, the last 50 on each later refresh: a few KB, not 60).
let peersCache = null
async function showPanel (fresh) {
  if (!selected) return
  const id = selected
  if (fresh || !peersCache) peersCache = await get(q('/peers'))
  const [page, msgs] = await Promise.all([get(q('/mesh?series=1&limit=1&q=' + encodeURIComponent(id))), get(q('/messages?limit=' + (fresh ? 200 : 50)))])
  if (id !== selected) return
  learn(peersCache)
  const n = page.nodes.find(x => x.peerId === id) ?? known.get(id)
  if (!n) { document.getElementById('panel').innerHTML = '<h2>' + esc(names.get(id) ?? short(id)) + '</h2><p class="dim">not on the mesh map (any more)</p>'; return }
  known.set(id, n)
  const p = peersCache.find(x => x.peerId === id)
  const mine = msgs.filter(m => n.self || m.source === id || m.destination === id).slice(0, 30)
  // Its neighbours by name where every link is drawn; beyond, their number (the list has the rest).
  const links = graphMode() === 'agents' ? mesh.edges.filter(e => e.a === id || e.b === id).map(e => names.get(e.a === id ? e.b : e.a)).filter(Boolean).join(', ') : n.links + ' agents'
  let h = '<h2>' + esc(n.name) + (n.self ? ' (this node)' : '') + '</h2><dl><dt>peer id</dt><dd>' + esc(n.peerId) + '</dd><dt>roles</dt><dd>' + esc(n.roles.join(', ')) + '</dd>' +
    '<dt>group</dt><dd>' + esc(groupLabel(n.group ?? '')) + '</dd><dt>linked to</dt><dd>' + esc(links || 'none') + '</dd><dt>announced</dt><dd>' + (n.announced === false ? 'not yet (a member, heard of ' + (n.ageMs / 1000).toFixed(1) + ' s ago)' : (n.ageMs / 1000).toFixed(1) + ' s ago') + '</dd>' +
    '<dt>msgs/s</dt><dd>' + spark(n.series?.messages, 'msgs', 200, 26) + ' ' + n.rate + '</dd><dt>tasks/s</dt><dd>' + spark(n.series?.tasks, 'tasks', 200, 26) + '</dd>'
  if (coord && coord.voters.includes(n.peerId)) h += '<dt>coordination</dt><dd>' + (coord.leader === n.peerId ? 'coordinator, term ' + coord.term : 'voter') + '</dd>'
  if (p) h += '<dt>capabilities</dt><dd>' + esc(p.capabilities.join(', ') || 'none') + '</dd><dt>version</dt><dd>' + esc(p.version) + '</dd>' +
    p.connections.map(c => '<dt>' + c.direction + '</dt><dd>' + esc(c.address) + '<br>rtt ' + (c.rttMs ?? '?') + ' ms · ' + c.streams.length + ' streams</dd>').join('')
  h += '</dl><h2>Recent messages</h2><table>' + mine.map(m => '<tr><td class="' + m.direction + '">' + m.direction + '</td><td>' + esc(m.type) + '<br><span class="dim">' + esc(m.subject) + '</span></td><td>' +
    (m.direction === 'in' ? 'from ' + who(m.source) : 'to ' + (m.destination.startsWith('topic:') ? esc(m.destination) : m.destination.split(',').map(who).join(', '))) + '</td><td>' + (m.latencyMs ?? '') + (m.latencyMs !== undefined ? ' ms' : '') + '</td></tr>').join('') + '</table>'
  document.getElementById('panel').innerHTML = h
}

// This node's gossip per topic: agents' topics first, the mesh's own ($...) dimmed below them; each
// with its rates in and out over the last minutes (drawRates' series, GET /rates).
let lastGossip = null
function drawGossip (g) {
  lastGossip = g
  const rows = [...g.topics].sort((a, b) => a.topic.startsWith('$') - b.topic.startsWith('$'))
  document.getElementById('gossip').innerHTML = rows.length === 0
    ? '<tr><td class="dim">no gossip in or out yet</td></tr>'
    : '<tr><th>topic</th><th class="num">in/s</th><th class="num">out/s</th><th class="num">total in / out</th><th>in, out: last 5 min</th></tr>' + rows.map(t =>
      '<tr data-topic="' + esc(t.topic) + '"' + (t.topic.startsWith('$') ? ' class="internal"' : '') + '><td>' + esc(t.topic) + '</td><td class="num in">' + t.inPerSec +
      '</td><td class="num out">' + t.outPerSec + '</td><td class="num dim">' + t.in + ' / ' + t.out + '</td><td class="sparks">' + topicSparks(t.topic) + '</td></tr>').join('')
}

const TASK_ROWS = 10
function drawTasks () {
  const rows = tasks?.recent ?? []
  document.getElementById('tasks').innerHTML = rows.length === 0
    ? '<tr><td class="dim">no task in the table</td></tr>'
    // The agent and the time in one column, one above the other: the id beside them on one line
    // fits a column of the grid at 1280×720 (page/style.ts).
    : '<tr><th>task</th><th>state</th><th>agent, updated</th></tr>' + rows.map(t =>
      '<tr data-task="' + esc(t.task_id) + '"><td class="id">' + esc(t.task_id) + '<br><span class="dim">' + esc(t.type) + '</span></td><td class="state ' + esc(t.status) + '"' +
      (t.reason ? ' title="' + esc(t.reason) + '"' : '') + '>' + esc(t.status) + (t.status === 'running' ? ' ' + Math.round(t.progress * 100) + '%' : '') + '</td><td class="agent">' +
      (t.agent ? who(t.agent) : '<span class="dim">none</span>') + '<br><span class="dim">' + new Date(t.updated_at).toLocaleTimeString() + '</span></td></tr>').join('')
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

`
