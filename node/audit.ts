/**
 * The audit trail (R-SEC "access is audited", issue 13): protocols report admission decisions,
 * credential and key changes and refusals to an AuditSink (protocols/core/audit.ts); this file
 * is the node's sink. Each entry becomes one JSON line `{ ts, node, kind, peer, correlationId,
 * code, reason, detail }` appended to `security.auditLog`, and the last `security.auditKeep`
 * are kept in memory for `/audit` on the debug endpoint.
 *
 * - `record` never blocks and never throws: lines go to a queue that one writer drains in order.
 *   A slow or full disk makes the queue grow to MAX_QUEUED_LINES; lines past that are left out
 *   of the file (still kept in memory and counted in `audit_lines_dropped_total`, with one
 *   warning per episode), so a stuck disk costs bounded memory and never stalls a protocol.
 * - A flood does not write a line per refused message: the first event of a (kind, peer) is
 *   written at once, the others of the same second are counted, and one line per second says
 *   how many (`detail.repeated`) with the last one's code, reason and correlation id.
 * - A change made with the right to make it (WRITTEN_IN_FULL: a keyring change, a credential's
 *   life, an owner's revocation list) is written in full, every one: they come at
 *   an operator's pace, not a flood's, and an operator's "use B" then "remove A" in one second
 *   are two facts the trail must keep, not one line that counts two.
 *   `audit_events_total{kind}` counts every event, written in full or not.
 */
import { chmod, mkdir, open, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { AuditEvent, AuditKind, AuditSink } from '../protocols/core/audit.js'
import { ConfigError } from '../protocols/core/errors.js'
import type { Logger } from './log.js'
import type { Stats } from './stats.js'

/** One line of the audit log, as written and as `/audit` serves it. */
export interface AuditEntry extends AuditEvent {
  /** ISO time the event was recorded (of the last one, for an aggregated line). */
  ts: string
  /** This node's peer id: logs of several nodes can be merged. */
  node: string
}

/**
 * Kinds never aggregated: changes made by this node or by a holder of the right (an operator's
 * keyring command, an owner-signed revocation list), not refusals a stranger can cause by the
 * thousand. key.received is not among them: it arrives in a peer's traffic; nor key.rotated,
 * which a sender's traffic paces (a sealing key per new set of recipients, one per message
 * past MAX_SENDER_KEYS: a helper's review).
 */
export const WRITTEN_IN_FULL: ReadonlySet<AuditKind> = new Set<AuditKind>([
  'keyring.changed', 'credential.loaded', 'credential.expiring', 'credential.expired', 'revocations.accepted'
])
/** Events of one (kind, peer) written in full per window; the rest are counted into one line. */
export const AUDIT_WINDOW_MS = 1_000
/** Lines waiting for the disk before new ones are left out of the file (~3 MB of lines). */
export const MAX_QUEUED_LINES = 10_000
/** Windows open at once; beyond, fresh peers share one window per kind (peer "*"), so fresh identities cannot grow memory. */
const MAX_WINDOWS = 4_096
/** Lines written to the file in one call. */
const BATCH_LINES = 512

interface Window { since: number, count: number, last?: AuditEvent }

/**
 * The per-second aggregation, with no I/O and time passed in: `offer` says whether an event is
 * written now (the first of its window) or held; `due` returns the summary lines of the
 * windows a second old, and closes those that saw nothing more.
 */
export class AuditCoalescer {
  private readonly windows = new Map<string, Window>()

  get open (): number { return this.windows.size }

  offer (e: AuditEvent, now: number): boolean {
    if (WRITTEN_IN_FULL.has(e.kind)) return true
    let k = `${e.kind}\n${e.peer ?? ''}`
    if (!this.windows.has(k) && this.windows.size >= MAX_WINDOWS) k = `${e.kind}\n*`
    const w = this.windows.get(k)
    if (w === undefined) {
      this.windows.set(k, { since: now, count: 0 })
      return true
    }
    w.count++
    w.last = k.endsWith('\n*') ? { ...e, peer: '*' } : e
    return false
  }

  /** Summary lines of the windows that are over (all of them with `all`, at stop). */
  due (now: number, all = false): AuditEvent[] {
    const out: AuditEvent[] = []
    for (const [k, w] of this.windows) {
      if (!all && now - w.since < AUDIT_WINDOW_MS) continue
      if (w.count === 0 || w.last === undefined) { this.windows.delete(k); continue }
      const last = w.last
      out.push({ ...last, detail: { ...last.detail, repeated: w.count, windowMs: now - w.since } })
      // A flood goes on: a new window starts, so it writes one line a second while it lasts.
      if (all) this.windows.delete(k)
      else this.windows.set(k, { since: now, count: 0 })
    }
    return out
  }
}

export interface AuditLogInit {
  /** This node's peer id (the `node` field of every line). */
  node: string
  /** Where to append the JSON lines; in memory only without one. */
  path?: string
  /** Entries kept for `/audit`. */
  keep: number
  stats: Stats
  log: Logger
}

export class AuditLog implements AuditSink {
  private readonly init: AuditLogInit
  private readonly coalescer = new AuditCoalescer()
  private readonly ring: AuditEntry[] = []
  private next = 0
  private queue: string[] = []
  private file?: FileHandle
  private writing?: Promise<void>
  private tick?: ReturnType<typeof setInterval>
  private dropping = false
  private running = false
  /** Stopped after a start: the file is closed, later entries stay in memory only. */
  private closed = false

  constructor (init: AuditLogInit) { this.init = init }

  /** Opens (creates, mode 0600) the file; lines recorded before are written then. */
  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.closed = false
    const path = this.init.path
    if (path === undefined || this.file !== undefined) return
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 })
      this.file = await open(path, 'a', 0o600)
      // An existing file keeps its mode on open: the log names peers and refusals, so it is made private.
      await chmod(path, 0o600)
    } catch (err) {
      this.running = false
      throw new ConfigError(`security.auditLog: cannot open ${path}: ${(err as Error).message}`, { cause: err })
    }
    this.kick()
  }

  /** Writes the held summaries and every queued line, then closes the file. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    clearInterval(this.tick)
    this.tick = undefined
    for (const e of this.coalescer.due(Date.now(), true)) this.write(e)
    this.closed = true
    this.kick()
    while (this.writing !== undefined) await this.writing
    await this.file?.close().catch(() => {})
    this.file = undefined
  }

  record (event: AuditEvent): void {
    try {
      this.init.stats.inc('audit_events_total', { kind: event.kind })
      if (!this.coalescer.offer(event, Date.now())) { this.ticking(); return }
      this.write(event)
      this.ticking()
    } catch { /* a sink never throws at the protocol that reports */ }
  }

  /** Newest first; `kind` matches a kind or its area ("admission" matches "admission.refused"). */
  recent (q: { kind?: string, peer?: string, limit?: number } = {}): AuditEntry[] {
    const out: AuditEntry[] = []
    const limit = q.limit ?? 100
    const n = this.ring.length
    for (let i = 1; i <= n && out.length < limit; i++) {
      const e = this.ring[(this.next - i + n) % n]
      if (q.kind !== undefined && e.kind !== q.kind && !e.kind.startsWith(`${q.kind}.`)) continue
      if (q.peer !== undefined && e.peer !== q.peer) continue
      out.push(e)
    }
    return out
  }

  get capacity (): number { return this.init.keep }

  private write (e: AuditEvent): void {
    const entry: AuditEntry = { ts: new Date().toISOString(), node: this.init.node, ...e }
    if (this.init.keep > 0) {
      if (this.ring.length < this.init.keep) this.ring.push(entry)
      else this.ring[this.next] = entry
      this.next = (this.next + 1) % this.init.keep
    }
    if (this.init.path === undefined || this.closed) return
    if (this.queue.length >= MAX_QUEUED_LINES) { this.dropped(1); return }
    this.queue.push(JSON.stringify(entry) + '\n')
    this.kick()
  }

  private dropped (n: number): void {
    this.init.stats.inc('audit_lines_dropped_total', {}, n)
    if (!this.dropping) this.init.log.warn({ path: this.init.path, queued: this.queue.length }, 'audit log cannot keep up: lines left out of the file (kept in memory, counted)')
    this.dropping = true
  }

  /** The aggregation's clock: runs while some window is open, so an idle node has no timer. */
  private ticking (): void {
    if (this.tick !== undefined || this.coalescer.open === 0) return
    this.tick = setInterval(() => {
      for (const e of this.coalescer.due(Date.now())) this.write(e)
      if (this.coalescer.open === 0) { clearInterval(this.tick); this.tick = undefined }
    }, AUDIT_WINDOW_MS)
    this.tick.unref?.()
  }

  /** One writer at a time, in order; it drains the queue in batches. */
  private kick (): void {
    if (this.writing !== undefined || this.file === undefined || this.queue.length === 0) return
    const file = this.file
    this.writing = (async () => {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, BATCH_LINES)
        try {
          await file.write(batch.join(''))
        } catch (err) {
          this.init.log.error({ path: this.init.path, error: (err as Error).message }, 'audit log write failed')
          this.dropped(batch.length)
        }
      }
      this.dropping = false
    })().finally(() => { this.writing = undefined; this.kick() })
  }
}
