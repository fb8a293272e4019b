/**
 * A second reporter for the suite's `node --test` runs (test/suite.ts): one JSON line per failed
 * test and per skipped test (with its reason), then one per file with the time its top-level
 * tests took and its counts. The suite reads these back and prints them last, because a CI log
 * is often read from its tail, and a failure in the first group otherwise scrolls away under
 * the serial group's report; a newcomer without Chromium or Go sees every skip and why in one place.
 */

import { appendFileSync } from 'node:fs'
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

/**
 * Where the lines go: appended at once, synchronously, to AGENTMESH_TEST_SUMMARY_OUT (what the
 * suite sets), or yielded to the reporter's destination when it is not set. The suite runs files
 * with --test-force-exit, and a runner that exits may not flush what a reporter yielded last: the
 * per-file lines, written at the end, were lost in a whole run (its summary counted 0 files).
 * So each file's line is written again after each of its tests, and the suite keeps the last.
 */
const OUT = process.env.AGENTMESH_TEST_SUMMARY_OUT

export default async function * summary (source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const files = new Map<string, FileLine>()
  const emit = (line: FailureLine | SkipLine | FileLine): string => {
    const text = JSON.stringify(line) + '\n'
    if (OUT === undefined || OUT === '') return text
    appendFileSync(OUT, text)
    return ''
  }
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
    const out: string[] = []
    if (skipped && event.type === 'test:pass') {
      const reason = typeof d.skip === 'string' ? d.skip : '(no reason given)'
      out.push(emit({ kind: 'skip', file, name: d.name, reason }))
    }
    // A test that failed only because a subtest did says nothing the subtest's line does not.
    if (event.type === 'test:fail' && (d.details?.error as { failureType?: string } | undefined)?.failureType !== 'subtestsFailed') {
      out.push(emit({ kind: 'fail', file, name: d.name, error: describe(d.details?.error) }))
    }
    out.push(emit(line))
    const text = out.join('')
    if (text !== '') yield text
  }
}
