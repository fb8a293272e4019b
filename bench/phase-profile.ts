/**
 * A V8 CPU profile of one measured phase of a bench worker (`profile` command: on, then off with
 * the file to write), read with bench/profile-summary.ts.
 */
import { Session } from 'node:inspector/promises'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

let profiler: Session | undefined

export async function phaseProfile (m: Record<string, unknown>): Promise<void> {
  if (m.on === true) {
    profiler = new Session()
    profiler.connect()
    await profiler.post('Profiler.enable')
    await profiler.post('Profiler.start')
  } else if (profiler !== undefined) {
    const { profile } = await profiler.post('Profiler.stop')
    mkdirSync(dirname(String(m.file)), { recursive: true })
    writeFileSync(String(m.file), JSON.stringify(profile))
    profiler.disconnect()
    profiler = undefined
  }
}
