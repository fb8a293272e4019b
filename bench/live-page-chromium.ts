/// <reference lib="dom" />
/**
 * What the live page really pulls at rest, in headless Chromium (playwright-core), for
 * `npm run bench:scale -- --page --chromium`: the page opened on a debug endpoint, a group opened
 * and an agent selected (as a person watching would), then every response over a window (the
 * stream of /events left out), in bytes by path. bench/live-page-bytes.ts computes the map's part
 * from the endpoint's code; this adds what only the page's own schedule shows (the selected
 * agent's recent messages, an open group's members at each version of the map). It was the
 * live-page-scale test's 20-s window, which asserted nothing (issue 45).
 * Needs Chromium (/usr/bin/chromium, or AGENTMESH_TEST_CHROMIUM).
 */
import { chromium } from 'playwright-core'

const CHROMIUM = process.env.AGENTMESH_TEST_CHROMIUM ?? '/usr/bin/chromium'
/** One step of the page on a loaded host: a refresh every 2 s, a list page every 5 s. */
const STEP_MS = 30_000

export interface PageBytes {
  seconds: number
  bytes: number
  /** Bytes per 2-s refresh (the page's fast schedule). */
  perRefresh: number
  byPath: Record<string, number>
}

export async function pageInChromium (url: string, seconds = 20): Promise<PageBytes> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 800 } })
    const fetched: Array<{ at: number, path: string, bytes: number }> = []
    page.on('response', (res) => {
      void res.body().then(b => { fetched.push({ at: Date.now(), path: new URL(res.url()).pathname, bytes: b.length }) }, () => {})
    })
    await page.goto(`${url}/`)
    // A group open (when the map is folded into groups) and the busiest agent selected.
    await page.waitForSelector('#agent-list tr[data-peer]', { timeout: STEP_MS })
    if (await page.$('#svg g.group') !== null) await page.click('#svg g.group')
    const name = await page.getAttribute('#agent-list tr[data-peer]', 'data-name')
    await page.click('#agent-list tr[data-peer]')
    await page.waitForFunction((name) => document.querySelector('#panel h2')?.textContent === name, name, { timeout: STEP_MS })
    const from = Date.now()
    await new Promise(resolve => setTimeout(resolve, seconds * 1000))
    const window = fetched.filter(f => f.at >= from && f.path !== '/events')
    const byPath: Record<string, number> = {}
    for (const f of window) byPath[f.path] = (byPath[f.path] ?? 0) + f.bytes
    const bytes = window.reduce((s, f) => s + f.bytes, 0)
    return { seconds, bytes, perRefresh: Math.round(bytes / (seconds / 2)), byPath }
  } finally {
    await browser.close()
  }
}
