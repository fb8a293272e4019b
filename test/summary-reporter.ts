/**
 * A second reporter for the suite's `node --test` runs (test/suite.ts): one JSON line per failed
 * test, then one per file with the time its top-level tests took. The suite reads these back
 * and prints them last, because a CI log is often read from its tail, and a failure in the
 * first group otherwise scrolls away under the serial group's report.
 */

import { resolve } from 'node:path'

interface TestEventData {
  name: string
  nesting: number
  file?: string
  details?: { duration_ms?: number, error?: unknown }
}
interface TestEvent { type: string, data?: TestEventData }

/** One failed test, as the suite prints it. */
export interface FailureLine { kind: 'fail', file: string, name: string, error: string }
/** One file's time: its top-level tests' durations, summed (they run one after another). */
export interface FileLine { kind: 'file', file: string, ms: number, tests: number }

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
    if (d.nesting === 0 && !wholeFile) {
      const line = files.get(file) ?? { kind: 'file', file, ms: 0, tests: 0 }
      line.ms += d.details?.duration_ms ?? 0
      line.tests++
      files.set(file, line)
    }
    if (event.type !== 'test:fail') continue
    // A test that failed only because a subtest did says nothing the subtest's line does not.
    if ((d.details?.error as { failureType?: string } | undefined)?.failureType === 'subtestsFailed') continue
    const line: FailureLine = { kind: 'fail', file, name: d.name, error: describe(d.details?.error) }
    yield JSON.stringify(line) + '\n'
  }
  for (const line of files.values()) yield JSON.stringify(line) + '\n'
}
