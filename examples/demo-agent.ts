// One agent of the local demo mesh (examples/local-mesh.ts starts five of these, each its own
// process). It answers "square" requests, broadcasts its status every few seconds, asks a random
// agent to square a number, and runs "demo.sum" tasks. Every 10 s the first agent submits a
// pipeline of three dependent tasks (two sums, then the sum of their results).
//
// What it prints is what shows the mesh working, a few lines per 10 s for the whole mesh: being
// elected coordinator (or losing office), agents joining or leaving once the mesh has formed,
// each pipeline's result, and every 10 s one summary line of what it heard and answered. With
// DEMO_VERBOSE=1 (`npm run demo -- --verbose`) it also prints every message heard, every answer
// got and every join seen during start-up. Options come as AGENTMESH_* variables.
import { z } from 'zod'
import { createAgentNode, defineCommand, defineTopic, loadConfig } from 'agentmesh'

const SQUARE = 'demo.square'
const Square = defineCommand(SQUARE, {
  request: z.object({ n: z.number() }),
  response: z.object({ square: z.number(), by: z.string() })
})
const Status = defineTopic('demo.status', z.object({ name: z.string(), peers: z.number(), served: z.number() }))
const SUMMARY_EVERY_MS = 10_000
// A pipeline takes about 2 s; one not done in 30 s is stuck, and the demo says so.
const PIPELINE_LATE_MS = 30_000
const verbose = process.env.DEMO_VERBOSE === '1'
// The mesh has formed for this agent once it sees this many others; until then joins are start-up.
const expected = Number(process.env.DEMO_AGENTS ?? '0') - 1

const config = await loadConfig({ env: process.env })
// The capability marks the demo's agents: requests go to those only, never to a CLI client (a
// `request` or `sub` run from the "Try:" hints) that happens to be connected.
const node = await createAgentNode({ ...config, capabilities: [...config.capabilities, SQUARE] })
let stopping = false
const say = (line: string): void => { if (!stopping) console.log(line) }
const chat = (line: string): void => { if (verbose) say(line) }
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/** What this agent heard and answered since the last summary line. */
const period = { heard: 0, from: new Set<string>(), served: 0, answers: 0, latencyMs: 0, failed: new Map<string, number>() }
let servedTotal = 0

const agents = new Map<string, string>()
const demoAgents = (): Array<{ peerId: string, name: string }> => node.findAgents({ capability: SQUARE }).filter(p => p.card.client !== true)
let formed = expected <= 0
node.handle(Square, ({ n }) => { period.served++; servedTotal++; return { square: n * n, by: node.name } })
node.addEventListener('peer:join', (e) => {
  const p = e.detail
  if (p.card.client === true || !p.capabilities.includes(SQUARE)) return
  agents.set(p.peerId, p.name)
  if (formed) say(`sees ${p.name} join`)
  else chat(`sees ${p.name} join`)
  if (!formed && agents.size >= expected) formed = true
})
node.addEventListener('peer:leave', (e) => {
  if (!agents.delete(e.detail.peerId)) return
  if (formed) say(`sees ${e.detail.name} leave`)
  else chat(`sees ${e.detail.name} leave`)
})
// The agents elect a coordinator among themselves; the one elected says so, and says when it
// loses office, so a change of coordinator shows as two lines.
let inOffice = false
node.addEventListener('coordinator:change', (e) => {
  const { leader, term, self } = e.detail
  if (self && !inOffice) say(`elected coordinator (term ${term})`)
  else if (!self && inOffice) say(`no longer coordinator (term ${term})`)
  else if (!self) chat(leader === undefined ? `knows no coordinator (term ${term})` : `follows ${agents.get(leader) ?? leader} (term ${term})`)
  inOffice = self
})
// A task takes a second in four steps, reporting progress; its inputs are the results of the
// tasks it depends on.
node.onTask('demo.sum', async (ctx) => {
  const own = (ctx.task.metadata.numbers as number[] | undefined) ?? []
  const fromDeps = Object.values(ctx.inputs).map(r => (r as { sum: number }).sum)
  for (let step = 1; step <= 4; step++) {
    await new Promise(resolve => setTimeout(resolve, 250))
    if (ctx.signal.aborted) throw ctx.signal.reason
    ctx.progress(step / 4)
  }
  return { sum: [...own, ...fromDeps].reduce((a, b) => a + b, 0), by: node.name }
})
await node.start()
console.log(JSON.stringify({ event: 'ready', name: node.name, peerId: node.peerId, addresses: node.addresses(), debug: node.debugUrl, pid: process.pid }))

void (async () => {
  for await (const msg of node.subscribe(Status)) {
    if (msg.from === node.peerId) continue
    period.heard++
    period.from.add(msg.payload.name)
    chat(`heard ${msg.payload.name}: ${msg.payload.peers} peers, served ${msg.payload.served}`)
  }
})()

const tick = setInterval(() => {
  void (async () => {
    await node.publish(Status, { name: node.name, peers: demoAgents().length, served: servedTotal })
    const peers = demoAgents()
    if (peers.length === 0) return
    const peer = peers[Math.floor(Math.random() * peers.length)]
    const n = Math.floor(Math.random() * 100)
    const t0 = performance.now()
    try {
      const r = await node.request(peer.peerId, Square, { n }, { timeoutMs: 2_000 })
      const ms = performance.now() - t0
      period.answers++
      period.latencyMs += ms
      chat(`asked ${r.by}: ${n}² = ${r.square} (${ms.toFixed(1)} ms)`)
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).name
      period.failed.set(code, (period.failed.get(code) ?? 0) + 1)
      chat(`asked ${peer.name}: failed with ${code} ${(err as Error).message}`)
    }
  })()
}, 2_000 + Math.floor(Math.random() * 1_000))

// One line per 10 s instead of one per message: the counts show the agents hear and answer each
// other, and the failures (by code) show when they do not.
const summary = setInterval(() => {
  formed = true
  const mean = period.answers > 0 ? ` (mean ${(period.latencyMs / period.answers).toFixed(1)} ms)` : ''
  const failed = period.failed.size > 0 ? `, ${[...period.failed].map(([code, k]) => `${k} ${code}`).join(', ')} failed` : ''
  say(`last 10 s: heard ${plural(period.heard, 'event')} from ${plural(period.from.size, 'agent')}, ` +
    `answered ${plural(period.served, 'request')}, got ${plural(period.answers, 'answer')}${mean}${failed}`)
  Object.assign(period, { heard: 0, from: new Set(), served: 0, answers: 0, latencyMs: 0, failed: new Map() })
}, SUMMARY_EVERY_MS)

let round = 0
let pipeline: ReturnType<typeof setTimeout> | undefined
const submitPipeline = (): void => {
  // Submitting needs a coordinator: before the first election, look again in a second.
  if (node.coordinator().leader === undefined) { pipeline = setTimeout(submitPipeline, 1_000); return }
  pipeline = setTimeout(submitPipeline, 10_000)
  void (async () => {
    const r = ++round
    const t0 = performance.now()
    try {
      const handles = await node.submitTasks([
        { task_id: `${node.name}-r${r}-a`, type: 'demo.sum', metadata: { numbers: [r, 1] } },
        { task_id: `${node.name}-r${r}-b`, type: 'demo.sum', metadata: { numbers: [r, 2] } },
        { task_id: `${node.name}-r${r}-total`, type: 'demo.sum', dependencies: [`${node.name}-r${r}-a`, `${node.name}-r${r}-b`] }
      ])
      // A pipeline that does not finish says where it stands instead of staying silent.
      let timer: ReturnType<typeof setTimeout> | undefined
      const late = new Promise<undefined>(resolve => { timer = setTimeout(() => { resolve(undefined) }, PIPELINE_LATE_MS) })
      const results = await Promise.race([Promise.all(handles.map(async h => await h.result() as { sum: number, by: string })), late])
      clearTimeout(timer)
      if (results === undefined) {
        say(`pipeline ${r}: not done after ${PIPELINE_LATE_MS / 1000} s (${handles.map(h => `${h.taskId}: ${h.latest?.status ?? 'no status'}`).join(', ')})`)
        return
      }
      const took = ((performance.now() - t0) / 1000).toFixed(1)
      say(`pipeline ${r}: (${r}+1) on ${results[0].by}, (${r}+2) on ${results[1].by}, total ${results[2].sum} on ${results[2].by} (${took} s)`)
    } catch (err) {
      say(`pipeline ${r}: ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`)
    }
  })()
}
// The first pipeline once the mesh has formed and elected a coordinator, then one every 10 s.
if (process.env.DEMO_SUBMITS === '1') pipeline = setTimeout(submitPipeline, 4_000)

// Ctrl-C in a terminal reaches every process of the group, and local-mesh also sends SIGTERM:
// stop once, silently (the others leaving is not news while the whole mesh stops).
const stop = (): void => {
  if (stopping) return
  stopping = true
  clearInterval(tick)
  clearInterval(summary)
  clearTimeout(pipeline)
  node.stop().then(() => process.exit(0), () => process.exit(1))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
