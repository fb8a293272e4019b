/// <reference lib="dom" />
// The live mesh page as a person sees it: headless Chromium (Debian's chromium, driven by
// playwright-core) opens a five-node mesh's page, sees five agents, their gossip rates per topic,
// a task in the tasks table, one agent stops, the page shows four; recent messages read by name.
// Without Chromium the test is skipped, saying how to install it (test/requirements.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { DIST, startMesh, stopAll } from '../../helpers.js'
import { CHROMIUM, skipWithout } from '../../requirements.js'

const OUT = join(DIST, '..', 'test-output')

test('live page: five agents drawn, the coordinator starred, gossip rates per topic, recent tasks; one stops, four remain; clicking one shows its details by name', { timeout: 3 * 60_000 }, async (t) => {
  if (skipWithout(t, 'chromium')) return
  await mkdir(OUT, { recursive: true })
  const nodes = await startMesh(5, (i) => ({ meshAnnounceIntervalMs: 1_000, ...(i === 0 ? { debug: '127.0.0.1:0' } : {}) }))
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  // Four agents gossip on one topic (every agent subscribes, so each has somewhere to send).
  const subs = nodes.map(n => n.subscribe('chatter'))
  for (const sub of subs) void (async () => { for await (const _ of sub) { /* drained */ } })()
  let said = 0
  const chatter = setInterval(() => { for (const n of nodes.slice(0, 4)) n.publish('chatter', { said: said++ }).catch(() => {}) }, 100)
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 700 } })
    const errors: string[] = []
    page.on('pageerror', (e) => { errors.push(e.message) })
    await page.goto(`${nodes[0].debugUrl as string}/`)
    await page.waitForFunction(() => document.querySelectorAll('g.agent').length === 5, undefined, { timeout: 20_000 })
    const names = await page.$$eval('g.agent', gs => gs.map(g => (g as SVGGElement).dataset.name).sort())
    assert.deepEqual(names, ['n0', 'n1', 'n2', 'n3', 'n4'])
    await page.waitForFunction(() => document.querySelectorAll('line.edge').length === 10, undefined, { timeout: 20_000 })
    // The coordinator is starred, and named in the summary with its term.
    await nodes[0].coordinatorElected()
    const leader = (): string | undefined => nodes[0].coordinator().leader
    await page.waitForFunction((id) => {
      const marked = Array.from(document.querySelectorAll('g.agent.coordinator'), g => (g as SVGGElement).dataset.peer)
      return marked.length === 1 && marked[0] === id
    }, leader(), { timeout: 20_000 })
    const leaderName = nodes.find(n => n.peerId === leader())?.name as string
    assert.match(await page.textContent('#summary') ?? '', new RegExp(`coordinator ${leaderName} \\(term \\d+\\)`))
    // Gossip: the topic's rates in and out of this node, live and non-zero, and links lit in gossip's colour.
    const rates = async (): Promise<number[]> => await page.$$eval('#gossip tr[data-topic="chatter"] td.num', tds => tds.slice(0, 2).map(td => Number(td.textContent)))
    await page.waitForFunction(() => {
      const cells = Array.from(document.querySelectorAll('#gossip tr[data-topic="chatter"] td.num'), td => Number(td.textContent))
      return cells[0] > 0 && cells[1] > 0
    }, undefined, { timeout: 20_000 })
    const [inRate, outRate] = await rates()
    // n0 publishes 10/s and hears three others at 10/s each; bounds wide enough for a loaded machine.
    assert.ok(inRate > 0 && inRate <= 60 && outRate > 0 && outRate <= 20, `chatter in ${inRate}/s, out ${outRate}/s`)
    await page.waitForFunction(() => document.querySelector('line.edge.gossip') !== null, undefined, { timeout: 10_000 })

    // A task run on the mesh shows in the summary and in the tasks table, with its state and agent by name.
    let ranBy = ''
    for (const n of nodes) n.onTask('shown', () => { ranBy = n.name; return 'done' })
    const task = await nodes[0].submitTask({ task_id: 'shown-1', type: 'shown' })
    assert.equal(await task.result(), 'done')
    await page.waitForFunction(() => /tasks: 1 completed/.test(document.querySelector('#summary')?.textContent ?? ''),
      undefined, { timeout: 20_000 })
    await page.waitForFunction(() => document.querySelector('#tasks tr[data-task="shown-1"] td.state')?.textContent === 'completed',
      undefined, { timeout: 20_000 })
    const agentCell = await page.$('#tasks tr[data-task="shown-1"] td.agent .who')
    assert.equal(await agentCell?.textContent(), ranBy)
    assert.equal(await agentCell?.getAttribute('title'), nodes.find(n => n.name === ranBy)?.peerId)
    await page.screenshot({ path: join(OUT, 'live-page-5-agents.png') })

    await nodes[4].stop()
    await page.waitForFunction(() => document.querySelectorAll('g.agent').length === 4, undefined, { timeout: 20_000 })
    assert.equal(await page.$('g.agent[data-name="n4"]'), null)

    await page.click('g.agent[data-name="n2"]')
    await page.waitForFunction(() => document.querySelector('#panel h2')?.textContent === 'n2', undefined, { timeout: 10_000 })
    await page.waitForFunction(() => /rtt/.test(document.querySelector('#panel')?.textContent ?? ''), undefined, { timeout: 10_000 })
    // Its recent messages name it (n0 hears n2's gossip), with the peer id on hover.
    await page.waitForFunction(() => Array.from(document.querySelectorAll('#panel td')).some(td => /^from n2$/.test(td.textContent ?? '')),
      undefined, { timeout: 10_000 })
    const from = await page.$$eval('#panel td .who', spans => spans.map(s => [s.textContent, s.getAttribute('title')]))
    assert.ok(from.some(([name, id]) => name === 'n2' && id === nodes[2].peerId), JSON.stringify(from.slice(0, 5)))
    assert.ok(from.every(([name]) => name !== null && !name.includes('…')), 'every agent in the panel has a known name')
    await page.screenshot({ path: join(OUT, 'live-page-4-agents.png') })
    assert.deepEqual(errors, [])
  } finally {
    clearInterval(chatter)
    for (const sub of subs) sub.unsubscribe()
    await browser.close()
    await stopAll(nodes)
  }
})
