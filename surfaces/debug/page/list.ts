/**
 * The live page's list of agents beside the graph, and its sparklines (browser script, put into
 * the page by surfaces/debug/page.ts). The list is one page of GET /mesh at a time (LIST_ROWS agents,
 * busiest first or by name, filtered on the server by the search box and by an open group),
 * each row with its messages and finished tasks per second over the last 5 minutes (the node's
 * rate rings: `series=1`). A person watching 200 agents looks for one by name, or at the busiest
 * few; neither needs the other 175 rows in the page, so the page never holds the whole map.
 * Sparklines are inline SVG: a polyline per series, its peak and last value on hover.
 */
export const LIST_SCRIPT = /* js */ `
const LIST_ROWS = 25
let listQuery = '', listGroup = null, listOffset = 0, listSort = 'rate', listPage = null, listSeq = 0
const matches = (n, ql) => n.name.toLowerCase().includes(ql) || n.peerId.toLowerCase().includes(ql) || n.roles.some(r => r.toLowerCase().includes(ql))

// values: rates per second, oldest first. The peak sets the scale; a flat zero stays on the baseline.
function spark (values, cls, w = 110, h = 20) {
  if (!values || values.length === 0) return ''
  const max = Math.max(0, ...values), last = values[values.length - 1], step = w / Math.max(1, values.length - 1)
  const pts = values.map((v, i) => (i * step).toFixed(1) + ',' + (max > 0 ? h - 1 - v / max * (h - 3) : h - 1).toFixed(1)).join(' ')
  return '<svg class="spark ' + cls + '" width="' + w + '" height="' + h + '" viewBox="0 0 ' + w + ' ' + h + '" data-max="' + max + '" data-last="' + last + '">' +
    '<title>' + cls + ': peak ' + max + '/s, last ' + last + '/s (5 s buckets, last ' + Math.round(values.length * 5 / 60) + ' min)</title>' +
    '<line x1="0" y1="' + (h - 0.5) + '" x2="' + w + '" y2="' + (h - 0.5) + '"/><polyline points="' + pts + '"/></svg>'
}

async function loadList () {
  const seq = ++listSeq
  const page = await get(q('/mesh?edges=0&series=1&sort=' + listSort + '&limit=' + LIST_ROWS + '&offset=' + listOffset +
    (listQuery ? '&q=' + encodeURIComponent(listQuery) : '') + (listGroup ? '&group=' + encodeURIComponent(listGroup) : '')))
  if (seq !== listSeq) return // a newer search went out meanwhile
  if (page.total > 0 && page.nodes.length === 0 && listOffset > 0) { listOffset = Math.floor((page.total - 1) / LIST_ROWS) * LIST_ROWS; return loadList() }
  listPage = page
  learn(page.nodes)
  for (const n of page.nodes) known.set(n.peerId, n)
  drawList()
}

const groupLabel = (id) => groups?.groups.find(g => g.id === id)?.label ?? id.replace(/^role:/, '')

function drawList () {
  const p = listPage
  if (!p) return
  document.getElementById('agent-count').textContent = p.total === p.agents ? p.agents + '' : p.total + ' of ' + p.agents
  document.getElementById('filter').innerHTML = listGroup ? 'in group <b>' + esc(groupLabel(listGroup)) + '</b> <button id="unfilter">show all</button>' : ''
  document.getElementById('unfilter')?.addEventListener('click', () => { setListGroup(null) })
  document.getElementById('agent-list').innerHTML = p.nodes.length === 0
    ? '<tr><td class="dim">no agent matches</td></tr>'
    : '<tr><th>agent</th><th class="num">links</th><th>msgs/s</th><th>tasks/s</th></tr>' + p.nodes.map(n =>
      '<tr data-peer="' + esc(n.peerId) + '" data-name="' + esc(n.name) + '"' + (n.peerId === selected ? ' class="selected"' : '') + '><td><span class="who" title="' + esc(n.peerId) + '">' + esc(n.name) + '</span>' +
      (coord && coord.inOfficeLeader === n.peerId ? ' ★' : '') + (n.self ? ' <span class="dim">(this node)</span>' : '') + '<br><span class="dim">' + esc(groupLabel(n.group)) + '</span></td><td class="num">' + n.links +
      '</td><td>' + spark(n.series?.messages, 'msgs') + ' <span class="dim">' + n.rate + '</span></td><td>' + spark(n.series?.tasks, 'tasks') + '</td></tr>').join('')
  for (const tr of document.querySelectorAll('#agent-list tr[data-peer]')) tr.addEventListener('click', () => { select(tr.dataset.peer) })
  const end = p.offset + p.nodes.length
  document.getElementById('pager').innerHTML = '<span>' + (p.total === 0 ? '0' : (p.offset + 1) + '–' + end) + ' of ' + p.total + '</span>' +
    '<button id="prev"' + (p.offset === 0 ? ' disabled' : '') + '>‹ prev</button><button id="next"' + (p.nextOffset === null ? ' disabled' : '') + '>next ›</button>'
  document.getElementById('prev').addEventListener('click', () => { listOffset = Math.max(0, listOffset - LIST_ROWS); loadList() })
  document.getElementById('next').addEventListener('click', () => { if (p.nextOffset !== null) { listOffset = p.nextOffset; loadList() } })
}

function setListGroup (id) { listGroup = id; listOffset = 0; loadList() }

let searchTimer = null
function onSearch (text) {
  clearTimeout(searchTimer)
  searchTimer = setTimeout(() => { listQuery = text.trim().toLowerCase(); listOffset = 0; loadList().then(draw) }, 200)
}

// The whole mesh's messages and finished tasks per second, and per topic on this node, from GET /rates.
function drawRates () {
  if (!rates) return
  document.getElementById('mesh-rates').innerHTML = '<span>msgs/s ' + spark(rates.mesh.messages, 'msgs') + '</span><span>tasks/s ' + spark(rates.mesh.tasks, 'tasks') + '</span>'
}

function topicSparks (topic) {
  const r = rates?.topics.find(t => t.topic === topic)
  return r ? spark(r.in, 'in', 80, 18) + ' ' + spark(r.out, 'out', 80, 18) : ''
}
`
