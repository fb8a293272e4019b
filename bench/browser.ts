/**
 * npm run bench:browser [-- --runs 3 --requests 300]: what a node in a browser tab costs against
 * a node in Node.js, both dialling the same agent over WebSockets on 127.0.0.1 (open mesh). The two
 * variants interleaved run by run (order alternating), each a fresh node: time from start() to the
 * agent listed (card exchange done), sequential echo requests tab -> agent and agent -> tab
 * (p50, p99), and libp2p's own ping on the same connection (the transport's share). Also the bundle's size and the page's load (module fetched and evaluated).
 * Needs Chromium (/usr/bin/chromium, or AGENTMESH_TEST_CHROMIUM).
 */
import { createServer } from 'node:http'
import { readFile } from 'node:fs/promises'
import { benchArgs } from './args.js'
import { chromium } from 'playwright-core'
import { createAgentNode, type AgentNode } from '../surfaces/index.js'
import { buildBrowser } from '../tools/build-browser.js'

const { values } = benchArgs({ options: { runs: { type: 'string', default: '3' }, requests: { type: 'string', default: '300' } } })
const runs = Number(values.runs)
const requests = Number(values.requests)
const CHROMIUM = process.env.AGENTMESH_TEST_CHROMIUM ?? '/usr/bin/chromium'

interface Figures { joinMs: number, out: number[], back: number[], ping: number[] }

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] }
const median = (xs: number[]): number => pct(xs, 50)
const fmt = (n: number): string => n.toFixed(2)

async function main (): Promise<void> {
  const build = await buildBrowser()
  const js = await readFile(build.file)
  const server = createServer((req, res) => {
    if (req.url === '/agentmesh.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js)
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module">import * as am from "/agentmesh.js"; window.agentmesh = am; document.title = "ready"</script>')
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`
  const mesh = `bench-browser-${process.pid}`
  const agent = await createAgentNode({ mesh, name: 'agent', mdns: false, logLevel: 'silent', security: { mode: 'open' }, listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  await agent.start()
  agent.handle('echo', (x) => x)
  const ws = agent.addresses()[0]
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] })
  const page = await browser.newPage()
  const loads: number[] = []
  try {
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now()
      await page.goto(url)
      await page.waitForFunction(() => document.title === 'ready')
      loads.push(performance.now() - t0)
    }

    /** The agent's side: requests to `peer`, sequential, each timed. */
    const back = async (peer: string): Promise<number[]> => {
      const out: number[] = []
      for (let i = 0; i < 20; i++) await agent.request(peer, 'echo', i)
      for (let i = 0; i < requests; i++) { const t = performance.now(); await agent.request(peer, 'echo', i); out.push(performance.now() - t) }
      return out
    }

    const inNode = async (): Promise<Figures> => {
      const t0 = performance.now()
      const node: AgentNode = await createAgentNode({ mesh, mdns: false, logLevel: 'silent', security: { mode: 'open' }, listen: [], bootstrap: [ws], coordination: { eligible: false } })
      node.handle('echo', (x) => x)
      await node.start()
      await node.joined({ peer: agent.peerId, signal: AbortSignal.timeout(20_000) })
      const joinMs = performance.now() - t0
      const out: number[] = []
      for (let i = 0; i < 20; i++) await node.request(agent.peerId, 'echo', i)
      for (let i = 0; i < requests; i++) { const t = performance.now(); await node.request(agent.peerId, 'echo', i); out.push(performance.now() - t) }
      // libp2p's own ping on the same connection (a new stream each): the transport's share.
      const ping: number[] = []
      for (let i = 0; i < 100; i++) { const t = performance.now(); await node.libp2p.services.ping.ping(agent.libp2p.peerId); ping.push(performance.now() - t) }
      const b = await back(node.peerId)
      await node.stop()
      return { joinMs, out, back: b, ping }
    }

    const inBrowser = async (): Promise<Figures> => {
      const { joinMs, out, ping, peerId } = await page.evaluate(async ({ mesh, ws, agentId, requests }) => {
        const am = (window as any).agentmesh
        const t0 = performance.now()
        const node = await am.createAgentNode({ mesh, logLevel: 'silent', security: { mode: 'open' }, bootstrap: [ws], insecureLocal: true })
        node.handle('echo', (x: unknown) => x);
        (window as any).node = node
        await node.start()
        await node.joined({ peer: agentId, signal: AbortSignal.timeout(20_000) })
        const joinMs = performance.now() - t0
        const out: number[] = []
        for (let i = 0; i < 20; i++) await node.request(agentId, 'echo', i)
        for (let i = 0; i < requests; i++) { const t = performance.now(); await node.request(agentId, 'echo', i); out.push(performance.now() - t) }
        const peer = node.libp2p.getPeers().find((p: { toString: () => string }) => p.toString() === agentId)
        const ping: number[] = []
        for (let i = 0; i < 100; i++) { const t = performance.now(); await node.libp2p.services.ping.ping(peer); ping.push(performance.now() - t) }
        return { joinMs, out, ping, peerId: node.peerId as string }
      }, { mesh, ws, agentId: agent.peerId, requests })
      const deadline = Date.now() + 20_000
      while (!agent.peers().some(p => p.peerId === peerId) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
      const b = await back(peerId)
      await page.evaluate(async () => { await (window as any).node.stop() })
      return { joinMs, out, back: b, ping }
    }

    const results: Record<'node' | 'browser', Figures[]> = { node: [], browser: [] }
    for (let r = 0; r < runs; r++) {
      const order: Array<'node' | 'browser'> = r % 2 === 0 ? ['node', 'browser'] : ['browser', 'node']
      for (const v of order) results[v].push(v === 'node' ? await inNode() : await inBrowser())
    }
    console.log(`bundle ${(build.bytes / 1024).toFixed(0)} KiB (not minified), page load + module evaluated: median ${median(loads).toFixed(0)} ms of ${loads.length}`)
    console.log(`${runs} runs each, interleaved; ${requests} sequential echo requests per direction per run; figures are medians over runs`)
    console.log('variant   join (start -> agent listed)   to agent p50 / p99    from agent p50 / p99   libp2p ping p50 / p99')
    for (const v of ['node', 'browser'] as const) {
      const f = results[v]
      const row = [
        `${median(f.map(x => x.joinMs)).toFixed(0)} ms`.padStart(8),
        `${fmt(median(f.map(x => pct(x.out, 50))))} / ${fmt(median(f.map(x => pct(x.out, 99))))} ms`.padStart(18),
        `${fmt(median(f.map(x => pct(x.back, 50))))} / ${fmt(median(f.map(x => pct(x.back, 99))))} ms`.padStart(18),
        `${fmt(median(f.map(x => pct(x.ping, 50))))} / ${fmt(median(f.map(x => pct(x.ping, 99))))} ms`.padStart(18)
      ]
      console.log(`${v.padEnd(9)} ${row[0].padStart(22)}   ${row[1].padStart(20)}   ${row[2].padStart(20)}   ${row[3].padStart(20)}`)
    }
  } finally {
    await browser.close()
    await agent.stop()
    server.close()
  }
}

main().catch((err: Error) => { console.error(err.message); process.exitCode = 1 })
