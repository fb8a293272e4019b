/**
 * The live page's graph (browser script, put into the page by surfaces/debug/page.ts). Up to
 * ALL_AGENTS_MAX agents, every agent and every link is drawn, as it always was. Beyond, a graph of
 * every agent is a hairball nobody reads, so the map is folded into groups (GET /mesh/groups, a
 * few hundred bytes at any size): the coordinator in the middle, the voters one by one around it
 * (a handful: the voter set is capped), and the other agents as one bubble per set of roles with
 * their count, message rate and stale announcements; lines between groups carry their link count
 * and rate. A bubble opens on a click into a dot per agent (names on hover; GET /mesh?group=),
 * and the list beside the graph (list.ts) is where a given agent is found by name.
 */
export const GRAPH_SCRIPT = /* js */ `
const ALL_AGENTS_MAX = 16
const graphMode = () => groups && groups.agents > ALL_AGENTS_MAX ? 'groups' : 'agents'

function layout (nodes) {
  const sorted = [...nodes].sort((a, b) => (b.self - a.self) || a.name.localeCompare(b.name))
  const r = Math.min(240, 60 + sorted.length * 22), pos = new Map()
  sorted.forEach((n, i) => { const t = -Math.PI / 2 + 2 * Math.PI * i / sorted.length; pos.set(n.peerId, sorted.length === 1 ? [0, 0] : [r * Math.cos(t), r * Math.sin(t)]) })
  return pos
}

function agentCls (n, extra) {
  return ['agent', extra || '', n.self ? 'self' : '', coord && coord.inOfficeLeader === n.peerId ? 'coordinator' : '', selected === n.peerId ? 'selected' : '',
    listQuery && matches(n, listQuery) ? 'match' : ''].join(' ')
}

function agentG (n, x, y, r, labelled) {
  const star = coord && coord.inOfficeLeader === n.peerId
  return '<g class="' + agentCls(n, labelled ? '' : 'dot') + '" data-peer="' + esc(n.peerId) + '" data-name="' + esc(n.name) + '" transform="translate(' + x.toFixed(1) + ',' + y.toFixed(1) + ')">' +
    '<circle r="' + r + '"><title>' + esc(n.name + ' · ' + n.roles.join(', ') + ' · ' + n.peerId) + '</title></circle>' + (star && labelled ? '<text class="crown" y="5">★</text>' : '') +
    (labelled ? '<text y="' + (r + 16) + '">' + esc(n.name) + '</text><text class="roles" y="' + (r + 29) + '">' + esc(n.roles.join(', ')) + '</text>' : '') + '</g>'
}

function drawAgents () {
  const pos = layout(mesh.nodes)
  let html = ''
  for (const e of mesh.edges) {
    const a = pos.get(e.a), b = pos.get(e.b); if (!a || !b) continue
    const key = [e.a, e.b].sort().join(' ')
    html += '<line class="edge' + (hot.has(key) ? ' ' + hot.get(key).cls : '') + '" data-edge="' + key + '" x1="' + a[0] + '" y1="' + a[1] + '" x2="' + b[0] + '" y2="' + b[1] + '" stroke-width="' + (1 + Math.log2(1 + e.rate)) + '"/>'
    // Labels sit a third of the way along, so those of crossing links do not meet in the middle.
    if (e.rate > 0) html += '<text class="rate" x="' + (a[0] * 0.65 + b[0] * 0.35) + '" y="' + (a[1] * 0.65 + b[1] * 0.35 - 4) + '">' + e.rate + '/s</text>'
  }
  for (const n of mesh.nodes) { const [x, y] = pos.get(n.peerId); html += agentG(n, x, y, 22, true) }
  return html
}

const bubbleR = (g) => 22 + 5 * Math.sqrt(g.count)

function drawGroups () {
  const all = groups.groups, pos = new Map([['coordinator', [0, 0]], ['voters', [0, 0]]])
  const others = all.filter(g => g.id !== 'coordinator' && g.id !== 'voters')
  const R = 215
  const nVoters = all.find(g => g.id === 'voters')?.members?.length ?? 0
  // Bubbles sit between two voters, so a line to one never runs under a voter's name.
  const turn = Math.PI / 2 + (nVoters > 0 ? Math.PI / nVoters : 0)
  others.forEach((g, i) => { const t = turn + 2 * Math.PI * i / others.length; pos.set(g.id, [R * Math.cos(t), R * Math.sin(t)]) })
  let html = ''
  // Between groups: one line each, its width by the number of links, its label count and rate.
  // The coordinator and the voters share the middle: their links to a group make one line.
  const centre = (id) => id === 'coordinator' || id === 'voters' ? 'centre' : id
  const merged = new Map()
  for (const l of groups.groupLinks) {
    const [a, b] = [centre(l.a), centre(l.b)].sort(), key = a + ' ' + b
    const m = merged.get(key) ?? { a: l.a, b: l.b, links: 0, rate: 0 }
    m.links += l.links; m.rate = Math.round((m.rate + l.rate) * 10) / 10
    merged.set(key, m)
  }
  for (const l of merged.values()) {
    const A = pos.get(l.a), B = pos.get(l.b)
    if (!A || !B || l.a === l.b || (A[0] === B[0] && A[1] === B[1])) continue
    html += '<line class="group-link" data-link="' + esc(l.a + ' ' + l.b) + '" x1="' + A[0] + '" y1="' + A[1] + '" x2="' + B[0] + '" y2="' + B[1] + '" stroke-width="' + (1 + Math.log2(1 + l.links)).toFixed(1) + '"/>' +
      '<text class="link-label" x="' + (A[0] * 0.45 + B[0] * 0.55).toFixed(1) + '" y="' + (A[1] * 0.45 + B[1] * 0.55 - 4).toFixed(1) + '">' + l.links + ' links · ' + l.rate + '/s</text>'
  }
  const inline = (id) => all.find(g => g.id === id)?.members
  const voters = inline('voters')
  if (voters) {
    voters.forEach((n, i) => {
      const t = -Math.PI / 2 + 2 * Math.PI * i / voters.length, x = 105 * Math.cos(t), y = 105 * Math.sin(t)
      html += '<line class="edge" x1="0" y1="0" x2="' + x.toFixed(1) + '" y2="' + y.toFixed(1) + '"/>'
    })
    voters.forEach((n, i) => { const t = -Math.PI / 2 + 2 * Math.PI * i / voters.length; html += agentG(n, 105 * Math.cos(t), 105 * Math.sin(t), 16, true) })
  }
  const leader = inline('coordinator')
  if (leader) html += agentG(leader[0], 0, 0, 22, true)
  for (const g of all) {
    // Voters and the coordinator are drawn one by one above; a group drawn as a bubble otherwise.
    if ((g.id === 'voters' || g.id === 'coordinator') && g.members) continue
    const [x, y] = pos.get(g.id), r = bubbleR(g), open = expanded.has(g.id)
    html += '<g class="group' + (open ? ' open' : '') + '" data-group="' + esc(g.id) + '" data-count="' + g.count + '" transform="translate(' + x.toFixed(1) + ',' + y.toFixed(1) + ')"><circle r="' + r.toFixed(1) + '"></circle>' +
      '<text class="count" y="-4">' + g.count + '</text><text class="sub" y="10">' + esc(g.label) + (g.self ? ' · this node' : '') + '</text><text class="sub" y="22">' + g.rate + ' msgs/s</text>' +
      (g.stale > 0 ? '<text class="stale" y="' + (r + 12).toFixed(1) + '">' + g.stale + ' not heard from</text>' : '') + '</g>'
    if (open) html += drawMembers(g, x, y, r)
  }
  return html
}

// An open group: a dot per agent on rings around its bubble, named on hover (or in the list).
function drawMembers (g, x, y, r) {
  const list = members.get(g.id) || [], perRing = (k) => Math.floor(2 * Math.PI * (r + 12 + k * 13) / 13)
  let html = '', i = 0, ring = 0
  while (i < list.length) {
    const cap = perRing(ring), rr = r + 12 + ring * 13
    for (let j = 0; j < cap && i < list.length; j++, i++) {
      const t = 2 * Math.PI * j / Math.min(cap, list.length - (i - j))
      html += agentG(list[i], x + rr * Math.cos(t), y + rr * Math.sin(t), 5, false)
    }
    ring++
  }
  return html
}

function draw () {
  if (!groups) return
  const svg = document.getElementById('svg')
  svg.innerHTML = graphMode() === 'agents' ? drawAgents() : drawGroups()
  for (const g of svg.querySelectorAll('.agent')) g.addEventListener('click', () => { select(g.dataset.peer) })
  for (const g of svg.querySelectorAll('.group')) g.addEventListener('click', () => { toggleGroup(g.dataset.group) })
  const s = document.getElementById('summary')
  s.textContent = (self ? self.name + ' in mesh "' + self.mesh + '" · ' : '') + groups.agents + ' agents · ' + groups.links + ' links · ' + coordText() + tasksText() + ' · map age ' + (groups.ageMs / 1000).toFixed(1) + ' s'
}

async function toggleGroup (id) {
  if (expanded.has(id)) { expanded.delete(id); members.delete(id); setListGroup(null) } else { expanded.add(id); await loadMembers(id); setListGroup(id) }
  draw()
}

// An open group's agents, fetched again only when the map's version changes (a join, a leave).
async function loadMembers (id) {
  const out = []
  for (let offset = 0; offset !== null;) {
    const page = await get(q('/mesh?edges=0&sort=name&limit=500&group=' + encodeURIComponent(id) + '&offset=' + offset))
    out.push(...page.nodes); offset = page.nextOffset
  }
  learn(out); for (const n of out) known.set(n.peerId, n)
  members.set(id, out)
}

// A link lights up as a sampled message passes: rpc in blue, gossip in violet (drawn links only).
function flash (a, b, cls) {
  const key = [a, b].sort().join(' '), line = () => document.querySelector('[data-edge="' + key + '"]')
  const was = hot.get(key)
  if (was) { clearTimeout(was.timer); line()?.classList.remove(was.cls) }
  hot.set(key, { cls, timer: setTimeout(() => { hot.delete(key); line()?.classList.remove(cls) }, 300) })
  line()?.classList.add(cls)
}

function onMessage (m) {
  if (!self || graphMode() !== 'agents') return
  if (m.topic === undefined) { const other = m.direction === 'in' ? m.source : m.destination; if (!other.includes(',')) flash(self.peerId, other, 'hot'); return }
  // Gossip in lights the link to its publisher where they are neighbours; gossip out, every link of this node.
  if (m.direction === 'in') flash(self.peerId, m.source, 'gossip')
  else for (const e of mesh.edges) if (e.a === self.peerId || e.b === self.peerId) flash(e.a, e.b, 'gossip')
}
`
