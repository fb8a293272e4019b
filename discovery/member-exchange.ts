/**
 * Full member exchanges (anti-entropy, and how a newcomer learns the mesh), by digest: the asker
 * sends the sums of what it would give (member-digest.ts), the answerer lists its entries of the
 * buckets that differ, and one `member-patch` round trip carries only the statements either side
 * lacks. A mesh at rest exchanges 64 sums and an empty list; a newcomer gets every statement, as
 * before, over as many rounds as the exchange's limits need (a closed mesh past ~760 agents did
 * not fit one). With an agent of an older build (it answers UnknownCommandError) the exchange is
 * the whole set both ways (`member-sync`), which this node also still serves.
 *
 * What a neighbour's exchanges may make this node do is charged to its budget (members.ts'
 * `charge`, in statements): a digest a unit per 64 members held (before it is summed) and per 8
 * entries listed, a patch each statement it carries and each one it asks for, before any is
 * parsed or looked up.
 */
import type { RpcService } from '../protocols/rpc/index.js'
import { UnknownCommandError, ValidationError } from '../protocols/core/errors.js'
import { decodeDigest, differing, digestOf, encodeDigest, listDiffering, reconcile, type Entry } from './member-digest.js'
import { MemberDigest, MemberPatch, MemberPatchIntake, MemberSync, MemberSyncIntake, SYNC_MAX_STATEMENTS, statementSize, type SignedStatement } from './member-wire.js'
import { SYNC_MAX_BYTES } from './constants.js'
import type { Rumours } from './rumours.js'

/** Digest rounds one exchange takes at most: 16 of up to ~760 credentialed statements each carry a closed mesh of ~12,000. */
const MAX_ROUNDS = 16
/** Entries summed per unit charged for a digest, and entries listed per unit. */
const SUMMED_PER_UNIT = 64
const LISTED_PER_UNIT = 8
/** Older agents remembered as such, at most (a newer build's restart under the same id is tried again past it). */
const MAX_OLDER = 4_096

export interface MemberExchangeInit {
  rpc: RpcService
  self: string
  /** What this node holds for an exchange: its own statement and each live member's. */
  entries: () => Entry[]
  /**
   * The statements held, whatever their member's state: each member's (`get`), its seq (`seq`),
   * and how many (`size`: what a digest's work grows with, counted without building them).
   */
  held: Pick<Rumours<SignedStatement>, 'get' | 'seq' | 'size'>
  /** A client's view: it learns from its own exchanges, and gives and takes nothing in anyone's. */
  passive: boolean
  /** The whole set as `member-sync` gives it (members.ts syncSet). */
  syncSet: () => SignedStatement[]
  /** Statements heard from `from` in an exchange: checked and taken (members.ts receive). */
  receive: (from: string, statements: SignedStatement[]) => void
  /** Whether `from`'s statements are taken at all (a client's: not). */
  takes: (from: string) => boolean
  /** Charge `n` statements to `from`'s budget, or throw RATE001 (members.ts). */
  charge: (from: string, n: number, correlationId: string) => void
  timeoutMs: () => number
  random?: () => number
}

export class MemberExchange {
  private readonly init: MemberExchangeInit
  /** Peers that answered a digest with UnknownCommandError: exchanged with by member-sync. */
  private readonly older = new Set<string>()

  constructor (init: MemberExchangeInit) { this.init = init }

  /** Serves the three exchange commands; returns what unregisters them. */
  handle (): Array<() => void> {
    const { rpc } = this.init
    return [
      rpc.handle(MemberDigest, (req, ctx) => this.answerDigest(ctx.peer, req.sums, ctx.envelope.id)),
      rpc.handle(MemberPatchIntake, (req, ctx) => this.answerPatch(ctx.peer, req, ctx.envelope.id)),
      // Its statements are counted, charged and only then parsed: over budget, none is.
      rpc.handle(MemberSyncIntake, (req, ctx) => {
        const answer = this.init.syncSet()
        this.init.charge(ctx.peer, req.statements.length + answer.length, ctx.envelope.id)
        const full = MemberSync.request.safeParse(req)
        if (!full.success) throw new ValidationError(`request for "${MemberSync.name}": ${full.error.issues[0]?.message ?? 'invalid'}`)
        if (!this.init.passive && this.init.takes(ctx.peer)) this.init.receive(ctx.peer, full.data.statements)
        return { statements: answer }
      })
    ]
  }

  /** One full exchange with `peer`; failures are left to the next exchange (or gossip). */
  async sync (peer: string): Promise<void> {
    try {
      if (this.older.has(peer)) { await this.whole(peer); return }
      for (let round = 0; round < MAX_ROUNDS; round++) {
        let listed
        try {
          listed = await this.init.rpc.request(peer, MemberDigest, { sums: encodeDigest(digestOf(this.init.entries())) }, { timeoutMs: this.init.timeoutMs() })
        } catch (err) {
          if (!(err instanceof UnknownCommandError)) throw err
          if (this.older.size >= MAX_OLDER) this.older.clear()
          this.older.add(peer)
          await this.whole(peer)
          return
        }
        const { want, give } = reconcile(this.init.entries(), listed.entries, listed.buckets, m => this.init.held.seq(m), this.init.self)
        if (want.length === 0 && give.length === 0) return
        const given = this.cut(this.init.passive ? [] : give)
        const patched = await this.init.rpc.request(peer, MemberPatch, { statements: given.statements, want }, { timeoutMs: this.init.timeoutMs() })
        if (this.init.takes(peer)) this.init.receive(peer, patched.statements)
        if (!listed.more && !patched.more && !given.more) return
      }
    } catch { /* the next exchange (or gossip) brings what this one would have */ }
  }

  /** The exchange of an older build: the whole set both ways. */
  private async whole (peer: string): Promise<void> {
    const answer = await this.init.rpc.request(peer, MemberSync, { statements: this.init.syncSet() }, { timeoutMs: this.init.timeoutMs() })
    if (this.init.takes(peer)) this.init.receive(peer, answer.statements)
  }

  private answerDigest (peer: string, sums: string, correlationId: string): { entries: Entry[], buckets: number[], more: boolean } {
    const theirs = decodeDigest(sums)
    if (theirs === undefined) throw new ValidationError(`request for "${MemberDigest.name}": sums are not a digest`)
    if (this.init.passive) return { entries: [], buckets: [], more: false }
    // Charged before the work it pays for: a neighbour over its budget costs this node nothing more.
    this.init.charge(peer, Math.ceil(this.init.held.size / SUMMED_PER_UNIT), correlationId)
    const own = this.init.entries()
    const list = listDiffering(own, differing(digestOf(own), theirs), SYNC_MAX_STATEMENTS, this.init.random ?? Math.random)
    this.init.charge(peer, Math.ceil(list.entries.length / LISTED_PER_UNIT), correlationId)
    return list
  }

  private answerPatch (peer: string, req: { statements: unknown[], want: string[] }, correlationId: string): { statements: SignedStatement[], more: boolean } {
    // Charged up front, what it sends and the most the answer can hold, before anything is parsed or built.
    this.init.charge(peer, req.statements.length + req.want.length, correlationId)
    const live = new Set(this.init.passive ? [] : this.init.entries().map(e => e[0]))
    const answer = this.cut([...new Set(req.want)].filter(m => live.has(m)))
    const full = MemberPatch.request.safeParse(req)
    if (!full.success) throw new ValidationError(`request for "${MemberPatch.name}": ${full.error.issues[0]?.message ?? 'invalid'}`)
    if (!this.init.passive && this.init.takes(peer)) this.init.receive(peer, full.data.statements)
    return answer
  }

  /** The statements of `members`, this node's own first, up to the exchange's limits (`more`: some left out). */
  private cut (members: string[]): { statements: SignedStatement[], more: boolean } {
    const self = this.init.self
    const ordered = members.includes(self) ? [self, ...members.filter(m => m !== self)] : members
    const statements: SignedStatement[] = []
    let bytes = 0
    for (const m of ordered) {
      const s = this.init.held.get(m)
      if (s === undefined) continue
      bytes += statementSize(s)
      if (statements.length >= SYNC_MAX_STATEMENTS || bytes > SYNC_MAX_BYTES) return { statements, more: true }
      statements.push(s)
    }
    return { statements, more: false }
  }
}
