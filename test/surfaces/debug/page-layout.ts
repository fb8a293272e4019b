/// <reference lib="dom" />
/**
 * The live page's layout as boxes (test/surfaces/debug/live-page-layout.test.ts): what overlaps,
 * which task ids are not shown whole, which panels hide content behind a scrollbar across.
 */
import type { Page } from 'playwright-core'

export interface Box { what: string, left: number, top: number, right: number, bottom: number }
export interface Layout {
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
export async function layout (page: Page): Promise<Layout> {
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

export const px = (b: Box): string => `${b.what} [${Math.round(b.left)},${Math.round(b.top)} → ${Math.round(b.right)},${Math.round(b.bottom)}]`
