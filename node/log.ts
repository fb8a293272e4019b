/**
 * Structured logs (R-OBS): one JSON object a line on stderr, with the time, the level, this
 * node's peer id and name, and for messages correlation_id, source, destination and
 * message_type. On a terminal they are pretty-printed instead, one line each (logFormat: pretty or
 * json chooses). Per-message lines are at debug
 * level and cost nothing unless it is on.
 */
import { createRequire } from 'node:module'
import { pino, type Logger, type LevelWithSilent } from 'pino'
import { StderrDestination } from './log-destination.js'

export type { Logger } from 'pino'

/** The destinations of the loggers made here, for closeLogger. */
const destinations = new WeakMap<Logger, StderrDestination>()

export function createLogger (level: LevelWithSilent, base: { peer_id: string, agent: string }, format: 'auto' | 'pretty' | 'json' = 'auto'): Logger {
  const options = { level, base, timestamp: pino.stdTimeFunctions.isoTime }
  if (format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true)) {
    // Only a terminal needs the pretty printer, so only then is it loaded (it is CommonJS).
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')
    // Written synchronously: a person reads these lines, and Node writes a terminal (or a pipe,
    // on Linux) synchronously anyway. Asynchronous, pino-pretty's destination (SonicBoom) held a
    // process 'exit' listener for good (log-destination.ts says why the JSON lines have our own).
    return pino(options, pretty({ colorize: true, destination: 2, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', singleLine: true }))
  }
  const destination = new StderrDestination()
  const log = pino(options, destination)
  destinations.set(log, destination)
  return log
}

/**
 * Done with a logger made by createLogger: what it queued is written (waiting CLOSE_WAIT_MS at
 * most), and with it the process listener its destination holds while lines are queued goes
 * (log-destination.ts). A line logged after is still written. Any other logger is flushed, and
 * left to whoever made it.
 */
export async function closeLogger (log: Logger): Promise<void> {
  const destination = destinations.get(log)
  if (destination === undefined) { log.flush(); return }
  await destination.close()
}
