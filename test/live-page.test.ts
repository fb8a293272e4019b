/// <reference lib="dom" />
// The live mesh page as a person sees it: headless Chromium (Debian's chromium, driven by
// playwright-core) opens a five-node mesh's page, sees five agents, one stops, the page shows four.
// Without Chromium the test is skipped, saying how to install it (test/requirements.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { DIST, startMesh, stopAll } from './helpers.js'
import { CHROMIUM, skipWithout } from './requirements.js'

const OUT = join(DIST, '..', 'test-output')

test('live page: five agents drawn, the coordinator starred, one stops, four remain; clicking one shows its details', async (t) => {
  if (skipWithout(t, 'chromium')) return
  await mkdir(OUT, { recursive: true })
  const nodes = await startMesh(5, (i) => ({ meshAnnounceIntervalMs: 1_000, ...(i === 0 ? { debug: '127.0.0.1:0' } : {}) }))
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
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
    // A task run on the mesh shows in the summary (the table as this node holds it).
    for (const n of nodes) n.onTask('shown', () => 'done')
    const task = await nodes[0].submitTask({ task_id: 'shown-1', type: 'shown' })
    assert.equal(await task.result(), 'done')
    await page.waitForFunction(() => /tasks: 1 completed/.test(document.querySelector('#summary')?.textContent ?? ''),
      undefined, { timeout: 20_000 })
    await page.screenshot({ path: join(OUT, 'live-page-5-agents.png') })

    await nodes[4].stop()
    await page.waitForFunction(() => document.querySelectorAll('g.agent').length === 4, undefined, { timeout: 20_000 })
    assert.equal(await page.$('g.agent[data-name="n4"]'), null)

    await page.click('g.agent[data-name="n2"]')
    await page.waitForFunction(() => document.querySelector('#panel h2')?.textContent === 'n2', undefined, { timeout: 10_000 })
    await page.waitForFunction(() => /rtt/.test(document.querySelector('#panel')?.textContent ?? ''), undefined, { timeout: 10_000 })
    await page.screenshot({ path: join(OUT, 'live-page-4-agents.png') })
    assert.deepEqual(errors, [])
  } finally {
    await browser.close()
    await stopAll(nodes)
  }
})
