/// <reference lib="dom" />
// The live page's layout at common screen sizes (issue 44: at 1400×900 the gossip table's
// sparklines were drawn over the recent tasks, whose ids could not be read). Headless Chromium
// (playwright-core, test/requirements.ts) opens the page of a real three-node mesh with gossip on
// a few topics and tasks with their generated ids, and at each size compares the boxes of what
// the page shows: no two visible boxes (panels, table cells, sparklines) overlap unless one holds
// the other, no panel hides part of its content behind a scrollbar across, and every task id is
// shown whole on one line. A failure prints the boxes that overlap.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { chromium } from 'playwright-core'
import { DIST, startMesh, stopAll } from '../../helpers.js'
import { CHROMIUM, skipWithout } from '../../requirements.js'
import { layout, px } from './page-layout.js'

const OUT = join(DIST, '..', 'test-output')
const SIZES = [[1280, 720], [1366, 768], [1440, 900], [1400, 900], [1920, 1080]] as const
const TOPICS = ['chatter', 'market-prices/eu-west', 'alerts']

test('live page layout: at 1280×720 to 1920×1080 no two visible boxes of the page overlap and every task id is shown whole', { timeout: 4 * 60_000 }, async (t) => {
  if (skipWithout(t, 'chromium')) return
  await mkdir(OUT, { recursive: true })
  const nodes = await startMesh(3, (i) => ({ meshAnnounceIntervalMs: 1_000, ...(i === 0 ? { debug: '127.0.0.1:0' } : {}) }))
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  const subs = nodes.flatMap(n => TOPICS.map(topic => n.subscribe(topic)))
  for (const sub of subs) void (async () => { for await (const _ of sub) { /* drained */ } })()
  let said = 0
  const chatter = setInterval(() => { for (const n of nodes) for (const topic of TOPICS) n.publish(topic, { said: said++ }).catch(() => {}) }, 200)
  try {
    // Tasks with the ids a client gets when it names none (UUIDs: the widest the table shows), one still waiting.
    for (const n of nodes) n.onTask('layout-check', () => 'done')
    const handles = await Promise.all(Array.from({ length: 8 }, async () => await nodes[0].submitTask({ task_id: randomUUID(), type: 'layout-check' })))
    await Promise.all(handles.map(async h => await h.result()))
    await nodes[0].submitTask({ task_id: randomUUID(), type: 'a-type-no-agent-runs' })

    const page = await browser.newPage({ viewport: { width: SIZES[0][0], height: SIZES[0][1] } })
    const errors: string[] = []
    page.on('pageerror', (e) => { errors.push(e.message) })
    await page.goto(`${nodes[0].debugUrl as string}/`)
    // Everything the page had: tasks in the table, and the gossip's sparklines (drawn from /rates every 5 s).
    await page.waitForFunction(() => document.querySelectorAll('#tasks tr[data-task]').length >= 9, undefined, { timeout: 30_000 })
    await page.waitForFunction((n) => document.querySelectorAll('#gossip tr[data-topic] svg.spark').length >= n, 2 * TOPICS.length, { timeout: 60_000 })
    await page.waitForFunction(() => document.querySelectorAll('#agent-list tr').length >= 3, undefined, { timeout: 30_000 })

    const failures: string[] = []
    for (const [width, height] of SIZES) {
      await page.setViewportSize({ width, height })
      // Two frames: the new size laid out and painted.
      await page.evaluate(async () => { await new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve))) })
      const l = await layout(page)
      await page.screenshot({ path: join(OUT, `live-page-${width}x${height}.png`) })
      assert.ok(l.counts.tasks >= 9 && l.counts.gossipSparks >= 2 * TOPICS.length, `${width}×${height}: the page shows what it is checked with: ${JSON.stringify(l.counts)}`)
      for (const [a, b] of l.overlaps) failures.push(`${width}×${height}: ${px(a)} overlaps ${px(b)}`)
      for (const c of l.clipped) failures.push(`${width}×${height}: task id ${c.what} not shown whole on one line: text ${px(c.text)} on ${c.lines} lines, shown ${px(c.shown)}, scrollWidth ${c.scrollWidth}, clientWidth ${c.clientWidth}`)
      for (const a of l.across) failures.push(`${width}×${height}: ${a.what} is ${a.scrollWidth} px wide inside ${a.clientWidth} px: the rest scrolls out of sight`)
      t.diagnostic(`${width}×${height}: ${l.counts.boxes} boxes, ${l.overlaps.length} overlaps, ${l.clipped.length} task ids clipped, ${l.across.length} panels scrolling across`)
    }
    assert.deepEqual(failures.slice(0, 40), [], `${failures.length} layout faults (screenshots in ${OUT})`)
    assert.deepEqual(errors, [])
  } finally {
    clearInterval(chatter)
    for (const sub of subs) sub.unsubscribe()
    await browser.close()
    await stopAll(nodes)
  }
})
