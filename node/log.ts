/**
 * Structured logs (R-OBS): one JSON object a line on stderr, with the time, the level, this
 * node's peer id and name, and for messages correlation_id, source, destination and
 * message_type. On a terminal they are pretty-printed instead, one line each (logFormat: pretty or
 * json chooses). Per-message lines are at debug
 * level and cost nothing unless it is on.
 */
import { createRequire } from 'node:module'
import { pino, type Logger, type LevelWithSilent } from 'pino'

export type { Logger } from 'pino'

export function createLogger (level: LevelWithSilent, base: { peer_id: string, agent: string }, format: 'auto' | 'pretty' | 'json' = 'auto'): Logger {
  const options = { level, base, timestamp: pino.stdTimeFunctions.isoTime }
  if (format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true)) {
    // Only a terminal needs the pretty printer, so only then is it loaded (it is CommonJS).
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')
    return pino(options, pretty({ colorize: true, destination: 2, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', singleLine: true }))
  }
  return pino(options, pino.destination({ fd: 2, sync: false }))
}
