/**
 * Every test in the suite has a time limit of its own (issue 45): a test waiting for a message
 * that never comes fails by name within minutes, instead of holding its file until the suite's
 * file limit (test/suite.ts) or CI's. Read from the sources: each `test(` call's head, up to
 * its function, must name a `timeout`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { DIST } from '../helpers.js'

const SOURCES = join(DIST, '..', 'test')

async function testFiles (dir: string): Promise<string[]> {
  const found: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name)
    if (e.isDirectory()) found.push(...await testFiles(path))
    else if (e.name.endsWith('.test.ts')) found.push(path)
  }
  return found
}

/** The heads of a file's test() calls without a timeout, as `file:line`. */
export function unbounded (file: string, text: string): string[] {
  const missing: string[] = []
  for (const m of text.matchAll(/^[ \t]*test\(/gm)) {
    const start = m.index
    const arrow = text.indexOf('=>', start)
    const head = text.slice(start, arrow === -1 ? undefined : arrow)
    if (!/\btimeout\s*:/.test(head)) missing.push(`${file}:${text.slice(0, start).split('\n').length}`)
  }
  return missing
}

test('every test of the suite sets its own time limit', { timeout: 60_000 }, async () => {
  const files = await testFiles(SOURCES)
  assert.ok(files.length > 100, `the test sources were found (${files.length} files under ${SOURCES})`)
  const missing: string[] = []
  for (const f of files) missing.push(...unbounded(relative(join(SOURCES, '..'), f), await readFile(f, 'utf8')))
  assert.deepEqual(missing, [], 'tests without a timeout: add { timeout: ... } after the title')
  // The check itself: a head without a limit is found, one with it is not.
  assert.equal(unbounded('x', "test('a', async () => {})").length, 1)
  assert.equal(unbounded('x', "test('a', { timeout: 1_000 }, async () => {})").length, 0)
})
