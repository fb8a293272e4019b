/**
 * Where the JSON log lines of a logger the library made go: stderr, written asynchronously, so
 * that a node logging at debug level does not wait on whoever reads its stderr (a host that pipes
 * it and reads it late, or never).
 *
 * Our own writer, not pino's (SonicBoom, `pino.destination({ sync: false })`), for two reasons seen
 * with sonic-boom 4.2.1 (pino 10.x's):
 * - it holds a process 'exit' listener from the moment it opens until it is closed (pino registers
 *   it through on-exit-leak-free), so a host that embedded nodes and stopped them kept listeners
 *   it had not asked for;
 * - that listener writes out what is buffered with `flushSync`, which retries a failed write every
 *   100 ms for as long as it fails, whatever the error: with stderr's reader gone (EPIPE,
 *   `agentmesh start 2>&1 | head -2`, then SIGTERM) the exit never finished, and the process, its
 *   ports bound, ran no signal handler again; only SIGKILL ended it (a user review, 2026-12-01).
 *
 * Here a line is queued and written by `fs.write`; a full pipe (EAGAIN) is tried again shortly; any
 * other error (EPIPE: the reader went) drops what is queued and every later line, which have
 * nowhere to go. A process 'exit' listener is held only while lines are queued (one for all the
 * writers of a process), to write them out synchronously if the process exits first: it gives up at the first error other than EAGAIN, and
 * on a pipe still full after CLOSE_WAIT_MS. `close()` waits for the queue to empty, at most
 * CLOSE_WAIT_MS; a line logged after it (a late callback of a stopped node) is written at once,
 * synchronously, behind what is still queued if anything is.
 */
import { write as writeAsync, writeSync } from 'node:fs'

/** How long a node's stop() waits for stderr to take the log lines still queued, and an exit's last write at most. */
export const CLOSE_WAIT_MS = 2_000
/** Lines queued at most, in bytes, for a reader that does not read: past it a line is dropped (and counted), not kept. */
export const MAX_QUEUED_BYTES = 16 * 1024 * 1024
/** How soon a write that met a full pipe (EAGAIN) is tried again. */
const FULL_RETRY_MS = 10

/**
 * The writers with lines queued, and the one process 'exit' listener they share while any are:
 * one per writer would pass Node's limit of ten listeners (and its warning on the host's stderr)
 * in a program that runs a dozen nodes.
 */
const waiting = new Set<StderrDestination>()
const onExit = (): void => { for (const d of [...waiting]) d.flushSync() }
function waits (d: StderrDestination, queued: boolean): void {
  if (queued === waiting.has(d)) return
  if (queued) {
    if (waiting.size === 0) process.on('exit', onExit)
    waiting.add(d)
  } else {
    waiting.delete(d)
    if (waiting.size === 0) process.off('exit', onExit)
  }
}

export class StderrDestination {
  private readonly fd: number
  private queue: Buffer[] = []
  /** Bytes queued or being written. */
  private queued = 0
  private writing = false
  /** stderr refused a write for good (EPIPE, EBADF): lines are dropped from then on. */
  private gone = false
  /** Lines dropped: stderr gone, or the queue past MAX_QUEUED_BYTES. */
  dropped = 0
  private readonly emptied: Array<() => void> = []
  private closed = false

  constructor (fd = 2) { this.fd = fd }

  write (line: string): boolean {
    if (this.gone) { this.dropped++; return true }
    // After close(), with nothing queued: written at once, so that a stopped node's late line
    // arms no listener and waits on no write (the thread pool may be busy with the host's work).
    if (this.closed && this.queued === 0) {
      try { writeSync(this.fd, line) } catch { this.dropped++ }
      return true
    }
    const chunk = Buffer.from(line)
    if (this.queued + chunk.length > MAX_QUEUED_BYTES) { this.dropped++; return true }
    this.queue.push(chunk)
    this.queued += chunk.length
    waits(this, true)
    if (!this.writing) this.pump()
    return true
  }

  /** What pino's `logger.flush(cb)` calls: `cb` once what is queued now is written (or dropped). */
  flush (cb?: (err?: Error) => void): void {
    if (cb === undefined) return
    if (this.queued === 0) { cb(); return }
    this.emptied.push(() => { cb() })
  }

  /** Resolves once the queue is empty, or after `waitMs` (a reader that never reads must not hold a node's stop()). */
  async close (waitMs = CLOSE_WAIT_MS): Promise<void> {
    this.closed = true
    if (this.queued === 0) return
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      new Promise<void>(resolve => { this.emptied.push(resolve) }),
      new Promise<void>(resolve => { timer = setTimeout(resolve, waitMs); timer.unref?.() })
    ])
    clearTimeout(timer)
  }

  private pump (): void {
    if (this.queue.length === 0) { this.idle(); return }
    this.writing = true
    const chunk = this.queue.length === 1 ? this.queue[0] : Buffer.concat(this.queue)
    this.queue = []
    writeAsync(this.fd, chunk, 0, chunk.length, null, (err, n) => {
      if (err !== null) {
        if (err.code === 'EAGAIN') {
          this.queue.unshift(chunk)
          setTimeout(() => { this.pump() }, FULL_RETRY_MS).unref()
          return
        }
        this.giveUp()
        return
      }
      this.queued -= n
      if (n < chunk.length) this.queue.unshift(chunk.subarray(n))
      this.pump()
    })
  }

  /** The queue is empty: the exit listener goes, and those waiting for the queue are told. */
  private idle (): void {
    this.writing = false
    waits(this, false)
    for (const done of this.emptied.splice(0)) done()
  }

  private giveUp (): void {
    this.gone = true
    this.dropped += this.queue.length
    this.queue = []
    this.queued = 0
    this.idle()
  }

  /** The process exits with lines queued: written synchronously, giving up on stderr gone or a pipe full past CLOSE_WAIT_MS. */
  flushSync (): void {
    const deadline = Date.now() + CLOSE_WAIT_MS
    const sleep = new Int32Array(new SharedArrayBuffer(4))
    for (let chunk = this.queue.shift(); chunk !== undefined && !this.gone; chunk = this.queue.shift()) {
      let at = 0
      while (at < chunk.length) {
        try {
          at += writeSync(this.fd, chunk, at)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() >= deadline) { this.giveUp(); return }
          Atomics.wait(sleep, 0, 0, FULL_RETRY_MS)
        }
      }
    }
    this.queue = []
    this.queued = 0
    this.idle()
  }
}
