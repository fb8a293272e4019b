/**
 * A browser node's logs (the browser build takes this file for log.ts): pino's own browser
 * build, one object per line on the console at the node's level, with its peer id and name.
 * There is no stderr to write JSON lines to, and no terminal for the pretty printer.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino'

export type { Logger } from 'pino'

/** `_format`: the console has one (node/log.ts takes pretty or json for stderr). */
export function createLogger (level: LevelWithSilent, base: { peer_id: string, agent: string }, _format?: 'auto' | 'pretty' | 'json'): Logger {
  // pino's browser build leaves `base` out of what it writes; a child's bindings are written.
  return pino({ level, browser: { asObject: true } }).child(base)
}

/** log.ts's twin: the console holds nothing to close. */
export async function closeLogger (_log: Logger): Promise<void> {}
