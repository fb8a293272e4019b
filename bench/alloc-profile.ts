/**
 * node [flags] dist/bench/alloc-profile.js OUT.json SCRIPT [ARGS...]: runs SCRIPT (a module of
 * dist/, e.g. dist/bench/sim.js) under V8's sampling heap profiler, with the objects that minor and
 * major collections freed kept in the profile, and at exit writes OUT.json (a
 * .heapprofile) and prints the bytes allocated by function. `node --heap-prof` keeps only what is
 * still alive at its end, which says nothing of the garbage a collector spent its time on: how the
 * allocation figures of bench:sim in docs/benchmarks.md were read (issue 46). A function's bytes
 * include what V8 inlined into it.
 */
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

interface SamplingNode { callFrame: { functionName: string, url: string, lineNumber: number }, selfSize: number, children?: SamplingNode[] }

const [out, script, ...rest] = process.argv.slice(2)
if (out === undefined || script === undefined) {
  console.error('usage: node dist/bench/alloc-profile.js OUT.json SCRIPT [ARGS...]')
  process.exit(2)
}

/** Bytes allocated by function (file:line of its start), most first. */
function bytesByFunction (head: SamplingNode): Array<[string, number]> {
  const by = new Map<string, number>()
  const walk = (n: SamplingNode): void => {
    const key = `${n.callFrame.functionName === '' ? '(anonymous)' : n.callFrame.functionName} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`
    by.set(key, (by.get(key) ?? 0) + n.selfSize)
    for (const c of n.children ?? []) walk(c)
  }
  walk(head)
  return [...by].sort((a, b) => b[1] - a[1])
}

const session = new Session()
session.connect()
// A sample every 64 KiB allocated: fine enough for shares of a run that allocates gigabytes.
session.post('HeapProfiler.startSampling', { samplingInterval: 65_536, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true })
process.on('exit', () => {
  // The session is this thread's: its answer comes before post returns, so it works in 'exit'.
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (err !== null) { console.error(`alloc-profile: ${err.message}`); return }
    writeFileSync(out, JSON.stringify(result.profile))
    const rows = bytesByFunction(result.profile.head as SamplingNode)
    const total = rows.reduce((sum, [, b]) => sum + b, 0)
    console.error(`alloc-profile: ${(total / 1e6).toFixed(0)} MB allocated (sampled); by function:`)
    for (const [key, bytes] of rows.slice(0, 25)) console.error(`${(100 * bytes / total).toFixed(1).padStart(5)}%  ${(bytes / 1e6).toFixed(0).padStart(7)} MB  ${key}`)
  })
})
process.argv = [process.argv[0], resolve(script), ...rest]
await import(pathToFileURL(resolve(script)).href)
