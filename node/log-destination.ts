/**
 * Where the JSON log lines of a logger the library made go: stderr, written asynchronously by
 * pino's destination (SonicBoom, sync: false), so that a node logging at debug level does not
 * wait on whoever reads its stderr.
 *
 * Such a destination holds a process 'exit' listener while it is open: pino registers it (through
 * on-exit-leak-free) to write out what is still buffered if the process exits, and removes it only
 * when the destination closes. A node's logger lived as long as the process, so a host that
 * embedded nodes and stopped them kept one listener it had not asked for. `close()` writes out what
 * is buffered and closes the destination (fd 2 itself stays open: SonicBoom never closes 1 or 2),
 * which takes the listener away; it resolves once it is gone.
 *
 * A line logged after close() (a late callback of the stopped node) is written synchronously: the
 * closed SonicBoom throws on write, and a log call must not throw at its caller.
 */
import { writeSync } from 'node:fs'
import { pino } from 'pino'

type SonicBoom = ReturnType<typeof pino.destination>

/** How long a node's stop() waits for stderr to take the log lines still buffered. */
export const CLOSE_WAIT_MS = 2_000

export class StderrDestination {
  private readonly stream: SonicBoom = pino.destination({ fd: 2, sync: false })
  /** pino swaps the stream's methods for no-ops after EPIPE (stderr's reader went): then end() never closes it. */
  private readonly end = this.stream.end
  private closing?: Promise<void>

  write (line: string): boolean {
    if (this.closing === undefined) return this.stream.write(line)
    try { writeSync(2, line) } catch { /* stderr is gone: the line has nowhere to go */ }
    return true
  }

  /** What pino's `logger.flush(cb)` calls. */
  flush (cb?: (err?: Error) => void): void {
    if (this.closing !== undefined) { cb?.(); return }
    this.stream.flush(cb)
  }

  /**
   * Writes out what is buffered, closes, and resolves once closed (pino's 'exit' listener gone),
   * or after `waitMs`: it waits for stderr to take the buffered lines, and a reader that never
   * reads would hold a node's stop() for good. Past the wait the destination finishes on its own
   * once stderr drains, and holds its listener until then.
   */
  async close (waitMs = CLOSE_WAIT_MS): Promise<void> {
    this.closing ??= this.stream.end !== this.end
      ? Promise.resolve()
      : new Promise<void>(resolve => { this.stream.once('close', () => { resolve() }); this.stream.end() })
    let timer: ReturnType<typeof setTimeout> | undefined
    const waited = new Promise<void>(resolve => { timer = setTimeout(resolve, waitMs); timer.unref?.() })
    await Promise.race([this.closing, waited])
    clearTimeout(timer)
  }
}
