/**
 * A second reporter for the suite's `node --test` runs (test/suite.ts): one JSON line per failed
 * test and per skipped test (with its reason), then one per file with the time its top-level
 * tests took and its counts. The suite reads these back and prints them last, because a CI log
 * is often read from its tail, and a failure in the first group otherwise scrolls away under
 * the serial group's report; a newcomer without Chromium or Go sees every skip and why in one place.
 */

import { resolve } from 'node:path'

interface TestEventData {
  name: string
  nesting: number
  file?: string
  skip?: string | boolean
  todo?: string | boolean
  details?: { duration_ms?: number, error?: unknown }
}
interface TestEvent { type: string, data?: TestEventData }

/** One failed test, as the suite prints it. */
export interface FailureLine { kind: 'fail', file: string, name: string, error: string }
/** One skipped test, with the reason it gave (`t.skip(reason)`). */
export interface SkipLine { kind: 'skip', file: string, name: string, reason: string }
/**
 * One file: its top-level tests' durations, summed (they run one after another), and its tests
 * at every level counted as node --test counts them (passed, failed, skipped).
 */
export interface FileLine { kind: 'file', file: string, ms: number, tests: number, passed: number, failed: number, skipped: number }

/** An error as a few lines: the assertion's own message where the runner wrapped it. */
function describe (error: unknown): string {
  const e = error as { cause?: unknown, message?: unknown, code?: unknown, failureType?: unknown } | undefined
  const cause = e?.cause as { message?: unknown, stack?: unknown } | undefined
  const text = typeof cause?.message === 'string' ? cause.message : String(e?.message ?? e)
  return text.trimEnd().split('\n').slice(0, 12).join('\n')
}

export default async function * summary (source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const files = new Map<string, FileLine>()
  for await (const event of source) {
    const d = event.data
    if (d === undefined || (event.type !== 'test:pass' && event.type !== 'test:fail')) continue
    const file = d.file ?? '(unknown file)'
    // A file that crashed or would not load is reported as a test named by its path: its failure
    // is said below, but it is no test of its own, and its time is its tests' again.
    const wholeFile = d.file !== undefined && resolve(d.name) === d.file
    if (wholeFile && event.type === 'test:pass') continue
    const line = files.get(file) ?? { kind: 'file', file, ms: 0, tests: 0, passed: 0, failed: 0, skipped: 0 }
    files.set(file, line)
    if (d.nesting === 0 && !wholeFile) {
      line.ms += d.details?.duration_ms ?? 0
      line.tests++
    }
    const skipped = d.skip !== undefined && d.skip !== false
    if (event.type === 'test:fail') line.failed++
    else if (skipped) line.skipped++
    else line.passed++
    if (skipped && event.type === 'test:pass') {
      const reason = typeof d.skip === 'string' ? d.skip : '(no reason given)'
      const skip: SkipLine = { kind: 'skip', file, name: d.name, reason }
      yield JSON.stringify(skip) + '\n'
      continue
    }
    if (event.type !== 'test:fail') continue
    // A test that failed only because a subtest did says nothing the subtest's line does not.
    if ((d.details?.error as { failureType?: string } | undefined)?.failureType === 'subtestsFailed') continue
    const failure: FailureLine = { kind: 'fail', file, name: d.name, error: describe(d.details?.error) }
    yield JSON.stringify(failure) + '\n'
  }
  for (const line of files.values()) yield JSON.stringify(line) + '\n'
}
