// The page of the browser example (examples/browser/serve.ts serves it): a node of the mesh in
// this tab. It keeps its key for the tab's session, asks the example's server for a credential
// naming its peer id (a closed mesh), joins through the agents' WebSocket addresses, lists the
// agents, sends requests, watches a topic, and answers the agents' `ui.ping`. Whatever comes from
// the mesh is shown as text, never as HTML.
/* global document, window, sessionStorage, fetch */
import { createAgentNode, exportIdentity, generateIdentity, importIdentity } from '/agentmesh.js'

const $ = (id) => document.getElementById(id)
const KEPT = 'agentmesh-identity'
const MAX_EVENTS = 50

function say (id, text, kind) {
  const el = $(id)
  el.textContent = text
  el.className = kind ?? ''
}

/** This tab's key: kept for the session, so a reload keeps its peer id (and its credential stays valid). */
async function identity () {
  const kept = sessionStorage.getItem(KEPT)
  if (kept !== null) {
    try { return importIdentity(JSON.parse(kept)) } catch { sessionStorage.removeItem(KEPT) }
  }
  const key = await generateIdentity()
  sessionStorage.setItem(KEPT, JSON.stringify(exportIdentity(key)))
  return key
}

async function credentialFor (peerId) {
  const r = await fetch('/credential', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ peerId }) })
  const body = await r.json()
  if (!r.ok) throw new Error(`no credential for this page: ${body.error}`)
  return body
}

function cell (row, text, className) {
  const td = row.insertCell()
  td.textContent = text
  if (className !== undefined) td.className = className
  return td
}

function renderAgents (node) {
  const peers = node.peers().sort((a, b) => a.name.localeCompare(b.name))
  const body = $('agents')
  body.replaceChildren()
  for (const p of peers) {
    const row = body.insertRow()
    row.dataset.name = p.name
    cell(row, p.name)
    cell(row, `…${p.peerId.slice(-8)}`, 'mono').title = p.peerId
    cell(row, p.roles.join(', '))
    cell(row, p.capabilities.join(', '))
  }
  $('agent-count').textContent = `(${peers.length})`
  const select = $('agent')
  const chosen = select.value
  select.replaceChildren(...peers.map(p => {
    const option = document.createElement('option')
    option.value = p.peerId
    option.textContent = p.name
    return option
  }))
  if (peers.some(p => p.peerId === chosen)) select.value = chosen
}

function nameOf (node, peerId) {
  if (peerId === node.peerId) return `${node.name} (this page)`
  return node.peers().find(p => p.peerId === peerId)?.name ?? `…${peerId.slice(-8)}`
}

function watch (node, topic, previous) {
  previous?.unsubscribe()
  const sub = node.subscribe(topic)
  say('watching', `watching "${topic}"`)
  $('events').replaceChildren()
  void (async () => {
    for await (const m of sub) {
      const row = $('events').insertRow(0)
      row.dataset.topic = topic
      cell(row, new Date().toLocaleTimeString())
      cell(row, nameOf(node, m.from))
      cell(row, JSON.stringify(m.payload).slice(0, 300), 'mono')
      while ($('events').rows.length > MAX_EVENTS) $('events').deleteRow(-1)
    }
  })()
  return sub
}

async function main () {
  const mesh = await (await fetch('/mesh.json')).json()
  const privateKey = await identity()
  const { id: peerId } = exportIdentity(privateKey)
  const credential = mesh.mode === 'closed' ? await credentialFor(peerId) : undefined
  say('status', `joining mesh "${mesh.mode === 'closed' ? `${mesh.mesh}" (closed, credential issued for this page` : `${mesh.mesh}" (open`})…`)
  const node = await createAgentNode({
    mesh: mesh.mesh,
    name: `page-${peerId.slice(-4)}`,
    preset: mesh.preset,
    security: { mode: mesh.mode },
    roles: ['agent', 'ui'],
    capabilities: ['ui'],
    bootstrap: mesh.bootstrap,
    insecureLocal: mesh.insecureLocal,
    privateKey,
    credential,
    logLevel: 'warn'
  })
  window.node = node // for the console
  let answered = 0
  node.handle('ui.ping', (req) => {
    answered++
    say('answered', `This page answered ${answered} request${answered === 1 ? '' : 's'} from agents; the last: ui.ping ${req.n} from ${req.from}.`, 'ok')
    return { pong: req.n }
  })
  await node.start()
  window.addEventListener('pagehide', () => { void node.stop() })
  $('self').textContent = `${node.name}  ${node.peerId}`
  const refresh = () => {
    renderAgents(node)
    const n = node.peers().length
    say('status', n > 0 ? `a node of mesh "${mesh.mesh}" (${mesh.mode}), connected to ${n} agent${n === 1 ? '' : 's'} over WebSockets` : 'looking for agents…', n > 0 ? 'ok' : undefined)
  }
  node.addEventListener('peer:join', refresh)
  node.addEventListener('peer:leave', refresh)
  refresh()

  $('request').addEventListener('submit', (e) => {
    e.preventDefault()
    let payload
    try {
      payload = JSON.parse($('payload').value)
    } catch (err) {
      return say('answer', `the payload is not JSON: ${err.message}`, 'error')
    }
    say('answer', '…')
    const agent = $('agent').value
    node.request(agent, $('command').value.trim(), payload, { timeoutMs: 5_000 }).then(
      (answer) => say('answer', `${nameOf(node, agent)} answered: ${JSON.stringify(answer)}`, 'ok'),
      (err) => say('answer', `${err.code ?? err.name}: ${err.message}`, 'error'))
  })
  let sub = watch(node, $('topic').value.trim())
  $('watch').addEventListener('submit', (e) => {
    e.preventDefault()
    try { sub = watch(node, $('topic').value.trim(), sub) } catch (err) { say('watching', `${err.code ?? err.name}: ${err.message}`, 'error') }
  })
  $('publish').addEventListener('submit', (e) => {
    e.preventDefault()
    let payload
    try {
      payload = JSON.parse($('publish-payload').value)
    } catch (err) {
      return say('published', `not JSON: ${err.message}`, 'error')
    }
    node.publish(sub.topic ?? $('topic').value.trim(), payload).then(
      () => say('published', 'published', 'ok'),
      (err) => say('published', `${err.code ?? err.name}: ${err.message}`, 'error'))
  })
}

main().catch((err) => { say('status', `${err.code ?? err.name}: ${err.message}`, 'error') })
