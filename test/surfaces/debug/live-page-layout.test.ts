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
import { chromium, type Page } from 'playwright-core'
import { DIST, startMesh, stopAll } from '../../helpers.js'
import { CHROMIUM, skipWithout } from '../../requirements.js'

const OUT = join(DIST, '..', 'test-output')
const SIZES = [[1280, 720], [1366, 768], [1440, 900], [1400, 900], [1920, 1080]] as const
const TOPICS = ['chatter', 'market-prices/eu-west', 'alerts']

interface Box { what: string, left: number, top: number, right: number, bottom: number }
interface Layout {
  overlaps: Array<[Box, Box]>
  clipped: Array<{ what: string, text: Box, shown: Box, lines: number, scrollWidth: number, clientWidth: number }>
  /** Panels whose content is wider than they are (the rest hidden behind a scrollbar across). */
  across: Array<{ what: string, scrollWidth: number, clientWidth: number }>
  counts: Record<string, number>
}

/**
 * In the page: every content box clipped to what its scrolling ancestors and the viewport show
 * (a row scrolled out of sight is not seen, so it overlaps nothing); pairs of those that overlap
 * by more than a pixel each way, neither holding the other; and the task ids whose text is not
 * all within what their cell shows.
 */
async function layout (page: Page): Promise<Layout> {
  return await page.evaluate(() => {
    const PANELS = 'header, #graph, #tables, #tables > section, aside, #agents, #panel'
    const CONTENT = 'td, th, svg.spark, h2, #search, #pager, #filter, header h1, #summary, #mesh-rates'
    const describe = (el: Element): string => {
      const data = Object.entries((el as HTMLElement).dataset ?? {}).map(([k, v]) => `[data-${k}="${String(v)}"]`).join('')
      const section = el.closest('#tables > section')?.querySelector('h2')?.firstChild?.textContent?.trim()
      const text = (el.textContent ?? '').trim().slice(0, 40)
      return `${el.tagName.toLowerCase()}${el.id !== '' ? `#${el.id}` : ''}${typeof el.className === 'string' && el.className !== '' ? `.${el.className.split(' ').join('.')}` : ''}${data}` +
        `${section !== undefined ? ` in "${section}"` : ''}${text !== '' ? ` "${text}"` : ''}`
    }
    const clipOf = (el: Element): DOMRect => {
      let clip = new DOMRect(0, 0, window.innerWidth, window.innerHeight)
      for (let a = el.parentElement; a !== null; a = a.parentElement) {
        const s = getComputedStyle(a)
        if (s.overflowX === 'visible' && s.overflowY === 'visible') continue
        const r = a.getBoundingClientRect()
        const left = Math.max(clip.left, s.overflowX === 'visible' ? -Infinity : r.left)
        const right = Math.min(clip.right, s.overflowX === 'visible' ? Infinity : r.right)
        const top = Math.max(clip.top, s.overflowY === 'visible' ? -Infinity : r.top)
        const bottom = Math.min(clip.bottom, s.overflowY === 'visible' ? Infinity : r.bottom)
        clip = new DOMRect(left, top, Math.max(0, right - left), Math.max(0, bottom - top))
      }
      return clip
    }
    const shown = (el: Element): Box | undefined => {
      const r = el.getBoundingClientRect()
      const c = clipOf(el)
      const box = {
        what: describe(el),
        left: Math.max(r.left, c.left),
        top: Math.max(r.top, c.top),
        right: Math.min(r.right, c.right),
        bottom: Math.min(r.bottom, c.bottom)
      }
      return box.right - box.left > 0.5 && box.bottom - box.top > 0.5 ? box : undefined
    }
    const els = Array.from(document.querySelectorAll(`${PANELS}, ${CONTENT}`)).filter(el => getComputedStyle(el).visibility !== 'hidden')
    const boxes = els.map(el => ({ el, box: shown(el) })).filter((x): x is { el: Element, box: Box } => x.box !== undefined)
    const overlaps: Array<[Box, Box]> = []
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]
        const b = boxes[j]
        if (a.el.contains(b.el) || b.el.contains(a.el)) continue
        const w = Math.min(a.box.right, b.box.right) - Math.max(a.box.left, b.box.left)
        const h = Math.min(a.box.bottom, b.box.bottom) - Math.max(a.box.top, b.box.top)
        if (w > 1 && h > 1) overlaps.push([a.box, b.box])
      }
    }
    const clipped: Layout['clipped'] = []
    for (const td of Array.from(document.querySelectorAll('#tasks tr[data-task] > td:first-child'))) {
      const id = td.firstChild
      if (id === null) continue
      const range = document.createRange()
      range.selectNodeContents(id)
      const t = range.getBoundingClientRect()
      const cell = td.getBoundingClientRect()
      const c = clipOf(td)
      // Across: the whole id within its cell and what the page shows of it (a row scrolled down out of sight is still readable across).
      const left = Math.max(cell.left, c.left)
      const right = Math.min(cell.right, c.right)
      // And on one line: an id broken over four lines (the issue's page) is not read as one.
      const lines = range.getClientRects().length
      if (t.left < left - 0.5 || t.right > right + 0.5 || td.scrollWidth > td.clientWidth || lines !== 1) {
        clipped.push({ what: describe(td), text: { what: id.textContent ?? '', left: t.left, top: t.top, right: t.right, bottom: t.bottom }, shown: { what: 'cell as shown', left, top: cell.top, right, bottom: cell.bottom }, lines, scrollWidth: td.scrollWidth, clientWidth: td.clientWidth })
      }
    }
    const across = Array.from(document.querySelectorAll(`${PANELS}, #agent-rows, body`))
      .filter(el => el.scrollWidth > el.clientWidth + 1)
      .map(el => ({ what: describe(el).slice(0, 80), scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }))
    const counts = {
      boxes: boxes.length,
      tasks: document.querySelectorAll('#tasks tr[data-task]').length,
      gossipSparks: document.querySelectorAll('#gossip svg.spark').length,
      agents: document.querySelectorAll('#agent-list tr').length
    }
    return { overlaps, clipped, across, counts }
  })
}

const px = (b: Box): string => `${b.what} [${Math.round(b.left)},${Math.round(b.top)} → ${Math.round(b.right)},${Math.round(b.bottom)}]`

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
    // Everything the issue's page had: tasks in the table, and the gossip's sparklines (drawn from /rates every 5 s).
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
