/**
 * Full member exchanges (anti-entropy, and how a newcomer learns the mesh), by digest: the asker
 * sends the sums of what it would give (member-digest.ts), the answerer lists its entries of the
 * buckets that differ, and one `member-patch` round trip carries only the statements either side
 * lacks. A mesh at rest exchanges 64 sums and an empty list; a newcomer gets every statement
 * its budget of signature checks lets it take (`asked`), over as many rounds as the exchange's
 * limits need (a closed mesh past ~760 agents did not fit one), and the rest from gossip and its
 * next exchanges. With an agent of an older build (it answers UnknownCommandError) the exchange is
 * the whole set both ways (`member-sync`), which this node also still serves.
 *
 * The sums are those of the digest's second version (`member-sums`, kept ready by column:
 * member-digest-sums.ts), asked by its third (`member-cells`): the same sums with the count of
 * entries they cover, so that an answerer can have a large bucket in which the asker is not far
 * behind compared again by cell next round (the asker sends that bucket's 64 sums by cell) rather
 * than list it whole (member-digest.ts `answerAreas`). An agent that answers the third
 * UnknownCommandError is asked by the second, and one that answers that so too by the first
 * (`member-digest`, summed from the entries held), each for OLDER_FOR_MS; all three are served.
 * The view is walked for a listing, or to reconcile one, only when some bucket differs.
 *
 * What a neighbour's exchanges may make this node do is charged to its budget (members.ts'
 * `charge`, in statements): a digest a unit per 64 members held (before it is summed; two with
 * sums by cell, a second walk) and per 8 entries listed (once listed), a patch each statement it carries and each one it asks for
 * (at least one), before any is parsed or looked up. The other way, a patch asks a neighbour
 * for no more statements than this node may still check from it (`asked`).
 */
import type { RpcService } from '../rpc/index.js'
import { UnknownCommandError, ValidationError } from '../core/errors.js'
import { answerAreas, columns, Cut, cutWithin, decodeDigest, differing, digestOf, encodeDigest, entriesWalk, listDiffering, Listing, pairs, randomSalt, randomSalt2, type Digest, type Entry, type EntryWalk, type Listed, type SlotOf } from './member-digest.js'
import { MemberCells, MemberDigest, MemberPatch, MemberPatchIntake, MemberSums, MemberSync, MemberSyncIntake, SYNC_MAX_STATEMENTS, statementSize, type SignedStatement } from './member-wire.js'
import { SYNC_MAX_BYTES } from './constants.js'
import type { Rumours } from './rumours.js'
import { syncWindow } from './sync-window.js'

/**
 * The node's salts, drawn from the platform's CSPRNG, not Math.random: V8's generator can be
 * recovered from a few of its outputs, and a neighbour sees every salt it is asked with, so it
 * could know the next round's salt and aim a statement's sum at it (a review of member-sums).
 * The simulation passes its seeded generator instead.
 */
const unpredictable = (): number => globalThis.crypto.getRandomValues(new Uint32Array(1))[0] / 0x100000000

/** Digest rounds one exchange takes at most: 16 of up to ~760 credentialed statements each carry a closed mesh of ~12,000. */
export const MAX_ROUNDS = 16
/**
 * Rounds in a row that brought this node nothing new before the exchange ends: a newcomer past
 * its budget of signature checks, or an answerer that keeps asking for statements (a hostile one
 * listing every bucket empty), would otherwise cost up to 16 × 512 KiB. What is left, the other
 * side's own exchanges pull, and the next one here.
 */
export const MAX_IDLE_ROUNDS = 2
/** Entries summed per unit charged for a digest, and entries listed per unit. */
const SUMMED_PER_UNIT = 64
const LISTED_PER_UNIT = 8
/** What one patch or its answer carries at most. */
const EXCHANGE_LIMITS = { items: SYNC_MAX_STATEMENTS, bytes: SYNC_MAX_BYTES }
/** Older agents remembered as such, at most, and for how long (an upgrade, or a digest refused while its answerer stopped, is tried again after it). */
const MAX_OLDER = 4_096
const OLDER_FOR_MS = 5 * 60_000
/** Whole exchanges with one older agent, at most one per (its exchanges carry everything both ways). */
const WHOLE_EVERY_MS = 30_000

/**
 * Of the statements `want`ed from a neighbour, those this node can take from it (`room`: its budget
 * of signature checks for that neighbour, members.ts); `cut` when that left some out, and the
 * exchange then ends with this patch (unless its answer was cut short by its size): what is left
 * comes by gossip or a later exchange, once the budget has refilled. Before, the asker wanted everything it lacked, and its neighbour sent it:
 * in a join wave at 3,000 agents (bench:sim, issue 46, scratch counts) an agent was sent 5,235
 * statements new to it in exchanges and took 2,544, the rest past its budget and dropped unread;
 * and the trickle the budget refilled kept such exchanges from ever going idle (MAX_IDLE_ROUNDS):
 * 576 of them ran all 16 rounds, each listing the whole view and answered with up to 512 KiB of
 * statements to drop. The budget is the one gossip from that neighbour draws on too: a neighbour
 * whose gossip used it up is asked for nothing until it refills, and anti-entropy with it waits.
 */
export function asked (want: string[], room: number): { ask: string[], cut: boolean } {
  return want.length > room ? { ask: want.slice(0, Math.max(0, room)), cut: true } : { ask: want, cut: false }
}

export interface MemberExchangeInit {
  rpc: RpcService
  self: string
  /** What this node holds for an exchange: its own statement and each live member's. */
  entries: () => Entry[]
  /**
   * `entries` in the listed buckets only, this node's own first, one at a time until the walk is
   * told to stop (member-digest.ts `EntryWalk`), from the columns the second version's sums are
   * kept in (member-digest-sums.ts `eachIn`); none: `entries` filtered.
   */
  walkIn?: EntryWalk
  /**
   * An answer's listing from the same columns (member-digest-sums.ts `listing`), as two columns:
   * what `listDiffering` over its entries in those buckets gives, counted first so that only the
   * entries that fit are placed; none: `listDiffering`.
   */
  listIn?: (buckets: ReadonlySet<number>, max: number, random: () => number) => Listed & { buckets: number[], more: boolean }
  /**
   * A member's slot in this node's table (member-table.ts `slotOf`) and the seq of the statement
   * held in a slot (member-digest-sums.ts `seqAt`): an answer's listing is then read in arrays by
   * slot, not maps by member (member-digest.ts `Listing`). None: by member (`held.seq`).
   */
  slots?: { of: SlotOf, seq: (slot: number) => number | undefined }
  /** The second version's sums of `entries` under `salt` (16 hex digits), kept ready (member-digest-sums.ts). */
  sums: (salt: string) => Uint32Array
  /**
   * For the third version: how many entries the sums cover in each bucket (`counts`), and the
   * sums of some buckets by cell under `salt` (`sums`, 64 a bucket, member-digest-sums.ts
   * `cellSums`).
   */
  cells: { counts: () => Uint32Array, sums: (buckets: readonly number[], salt: string) => Uint32Array[] }
  /** Whether this node gives `member`'s statement in an exchange (its own, or a live member's): `entries`, one at a time. */
  gives: (member: string) => boolean
  /**
   * The statements held, whatever their member's state: each member's (`get`), its seq (`seq`),
   * and how many (`size`: what a digest's work grows with, counted without building them).
   */
  held: Pick<Rumours<SignedStatement>, 'get' | 'seq' | 'size' | 'all'>
  /** A client's view: it learns from its own exchanges, and gives and takes nothing in anyone's. */
  passive: boolean
  /** Statements heard from `from` in an exchange: checked and taken (members.ts receive); how many were new and taken. */
  receive: (from: string, statements: SignedStatement[]) => number
  /** Whether `from`'s statements are taken at all (a client's: not). */
  takes: (from: string) => boolean
  /** Charge `n` statements to `from`'s budget, or throw RATE001 (members.ts). */
  charge: (from: string, n: number, correlationId: string) => void
  /** Statements new to this node it may still take from `peer` (its budget of signature checks, members.ts): a patch asks for no more. None: no bound. */
  room?: (peer: string) => number
  timeoutMs: () => number
  random?: () => number
}

export class MemberExchange {
  private readonly init: MemberExchangeInit
  /** Peers that answered a digest with UnknownCommandError (exchanged with by member-sync): until when, and their last whole exchange. */
  private readonly older = new Map<string, { until: number, last: number }>()
  /**
   * Peers that answered the digest's third version (`member-cells`) with UnknownCommandError, and
   * the version they are asked by instead (2, or 1 if `member-sums` was refused too), until when.
   */
  private readonly lower = new Map<string, { version: 1 | 2, until: number }>()

  constructor (init: MemberExchangeInit) { this.init = init }

  /**
   * Serves the exchange's commands (the digest's three versions, the patch, the whole exchange);
   * returns what unregisters them, in that order but the third version's last.
   */
  handle (): Array<() => void> {
    const { rpc } = this.init
    return [
      rpc.handle(MemberDigest, (req, ctx) => this.answerDigest(ctx.peer, req, ctx.envelope.id, 1)),
      rpc.handle(MemberSums, (req, ctx) => this.answerDigest(ctx.peer, req, ctx.envelope.id, 2)),
      rpc.handle(MemberPatchIntake, (req, ctx) => this.answerPatch(ctx.peer, req, ctx.envelope.id)),
      // Its statements are counted, charged and only then parsed: over budget, none is.
      rpc.handle(MemberSyncIntake, (req, ctx) => {
        const answer = this.syncSet()
        this.init.charge(ctx.peer, req.statements.length + answer.length, ctx.envelope.id)
        const full = MemberSync.request.safeParse(req)
        if (!full.success) throw new ValidationError(`request for "${MemberSync.name}": ${full.error.issues[0]?.message ?? 'invalid'}`)
        if (!this.init.passive && this.init.takes(ctx.peer)) this.init.receive(ctx.peer, full.data.statements)
        return { statements: answer }
      }),
      rpc.handle(MemberCells, (req, ctx) => {
        const answer = this.answerDigest(ctx.peer, req, ctx.envelope.id, 3)
        return { ...answer, split: answer.split ?? [] }
      })
    ]
  }

  /** Full exchanges that ran to their end (with any agent): 0 until this node's view has been matched with one. */
  get completed (): number { return this.done }
  private done = 0

  /** One full exchange with `peer`; failures are left to the next exchange (or gossip). */
  async sync (peer: string): Promise<void> {
    try {
      await this.rounds(peer)
      this.done++
    } catch { /* the next exchange (or gossip) brings what this one would have */ }
  }

  private async rounds (peer: string): Promise<void> {
    const older = this.older.get(peer)
    if (older !== undefined && older.until > Date.now()) { await this.whole(peer, older); return }
    this.older.delete(peer)
    // Buckets an answer would compare by cell: the next round's digest sends their sums by cell.
    // Followed once an exchange: in a join wave the views change between rounds, and following
    // every answer's would chase them for all MAX_ROUNDS (bench:sim, issue 46).
    let split: number[] = []
    let celled = false
    for (let round = 0, idle = 0; round < MAX_ROUNDS && idle < MAX_IDLE_ROUNDS; round++) {
      let listed
      try {
        listed = await this.ask(peer, split, celled)
        split = !celled && listed.split !== undefined ? listed.split : []
        if (split.length > 0) celled = true
      } catch (err) {
        if (!(err instanceof UnknownCommandError)) throw err
        if (this.older.size >= MAX_OLDER) this.older.clear()
        const mark = { until: Date.now() + OLDER_FOR_MS, last: 0 }
        this.older.set(peer, mark)
        await this.whole(peer, mark)
        return
      }
      // Nothing listed (at rest: no bucket differs), nothing to reconcile: the view is not walked.
      // Else what it wants, up to its room (and one more, to tell that some were left), and its
      // gives, walked until the patch is full: not the whole view when its neighbour lacks it all.
      const slots = this.init.slots
      const reading = listed.buckets.length === 0 ? undefined : new Listing(columns(listed.entries), listed.buckets, slots?.of)
      const room = this.init.room?.(peer) ?? Infinity
      const held = (m: string, slot: number | undefined): number | undefined => (slot === undefined ? undefined : slots?.seq(slot)) ?? this.init.held.seq(m)
      const { ask, cut } = asked(reading?.wanted(held, this.init.self, room + 1) ?? [], room)
      const given = this.cutter()
      if (reading !== undefined && !this.init.passive) reading.give(this.walkIn(), given)
      if (ask.length === 0 && given.items.length === 0) {
        // Nothing to ask or give in what was listed; buckets left out are listed next round, and
        // those to compare by cell are (a round that only named those is not an idle one).
        if ((!listed.more && split.length === 0) || cut) return
        // Only the round whose buckets to compare by cell were just followed is not an idle one:
        // an answerer that lists nothing with `more` would otherwise keep the exchange going.
        if (listed.buckets.length > 0 || split.length === 0) idle++
        continue
      }
      const patched = await this.init.rpc.request(peer, MemberPatch, { statements: given.items, want: ask }, { timeoutMs: this.init.timeoutMs() })
      const taken = this.init.takes(peer) ? this.init.receive(peer, patched.statements) : 0
      // Past this node's budget for the peer, only an answer cut short by its size goes on (the
      // budget has room for the rest); what else is left comes by gossip or a later exchange.
      if (cut ? !patched.more : !listed.more && split.length === 0 && !patched.more && !given.more) return
      idle = taken > 0 ? 0 : idle + 1
    }
  }

  /**
   * One round's digest: the third version's (with the sums by cell of the buckets the last answer
   * named, `split`), or an older one to a peer that does not know it (then remembered for
   * OLDER_FOR_MS). A fresh salt each round: which (member, seq) pairs share a sum is nobody's to
   * choose. UnknownCommandError to the first version too: the caller's. Once an exchange has
   * followed a split (`celled`), its count is 0: the answerer then lists whole what differs
   * besides, rather than name buckets to compare by cell that this exchange would not follow.
   */
  private async ask (
    peer: string, split: readonly number[], celled: boolean
  ): Promise<{ entries: Entry[], buckets: number[], split?: number[], more: boolean }> {
    const { rpc, random = unpredictable } = this.init
    const timeoutMs = this.init.timeoutMs()
    let lower = this.lower.get(peer)
    if (lower !== undefined && lower.until <= Date.now()) { this.lower.delete(peer); lower = undefined }
    const refused = (version: 1 | 2): void => {
      if (this.lower.size >= MAX_OLDER) this.lower.clear()
      this.lower.set(peer, { version, until: Date.now() + OLDER_FOR_MS })
    }
    if (lower === undefined) {
      const salt = randomSalt2(random)
      let count = 0
      if (!celled) for (const n of this.init.cells.counts()) count += n
      const cells = split.length === 0 ? undefined : this.init.cells.sums(split, salt).map((sums, i) => ({ bucket: split[i], sums: encodeDigest(sums) }))
      try {
        const req = { sums: encodeDigest(this.init.sums(salt)), salt, count, ...(cells !== undefined ? { cells } : {}) }
        return await rpc.request(peer, MemberCells, req, { timeoutMs })
      } catch (err) {
        if (!(err instanceof UnknownCommandError)) throw err
        refused(2)
      }
    }
    if (lower === undefined || lower.version === 2) {
      const salt = randomSalt2(random)
      try {
        return await rpc.request(peer, MemberSums, { sums: encodeDigest(this.init.sums(salt)), salt }, { timeoutMs })
      } catch (err) {
        if (!(err instanceof UnknownCommandError)) throw err
        refused(1)
      }
    }
    const salt = randomSalt(random)
    return await rpc.request(peer, MemberDigest, { sums: encodeDigest(digestOf(this.init.entries(), salt)), salt }, { timeoutMs })
  }

  /** This node's entries in some buckets, walked: by the kept columns when it has them. */
  private walkIn (): EntryWalk {
    return this.init.walkIn ?? entriesWalk(this.init.entries(), this.init.self)
  }

  /** The exchange of an older build: the whole set both ways, at most once per WHOLE_EVERY_MS with one agent. */
  private async whole (peer: string, mark: { last: number }): Promise<void> {
    if (Date.now() - mark.last < WHOLE_EVERY_MS) return
    mark.last = Date.now()
    const answer = await this.init.rpc.request(peer, MemberSync, { statements: this.syncSet() }, { timeoutMs: this.init.timeoutMs() })
    if (this.init.takes(peer)) this.init.receive(peer, answer.statements)
  }

  /**
   * An answer to a digest of any version: the entries of the areas that differ (whole buckets;
   * for the third version, also the cells that differ of buckets the asker sent by cell), and for
   * the third, the buckets to compare by cell next round (`split`, member-digest.ts `answerAreas`).
   */
  private answerDigest (
    peer: string, req: { sums: string, salt: string, count?: number, cells?: Array<{ bucket: number, sums: string }> },
    correlationId: string, version: 1 | 2 | 3
  ): { entries: Entry[], buckets: number[], split?: number[], more: boolean } {
    const theirs = decodeDigest(req.sums)
    const theirCells = req.cells?.map(c => decodeDigest(c.sums))
    if (theirs === undefined || theirCells?.includes(undefined) === true) throw new ValidationError(`request for "${MemberDigest.name}": sums are not a digest`)
    const none = version === 3 ? { entries: [], buckets: [], split: [], more: false } : { entries: [], buckets: [], more: false }
    if (this.init.passive) return none
    // Charged before the work it pays for (the listing's share once it is known, the most it can
    // be being the members held; sums by cell are a second walk of the view): a neighbour over
    // its budget costs this node nothing more.
    const walks = theirCells !== undefined && theirCells.length > 0 ? 2 : 1
    this.init.charge(peer, walks * Math.max(1, Math.ceil(this.init.held.size / SUMMED_PER_UNIT)), correlationId)
    const { salt } = req
    const digest: Digest = {
      sums: theirs,
      ...(req.count !== undefined ? { count: req.count } : {}),
      ...(req.cells !== undefined ? { cells: { buckets: req.cells.map(c => c.bucket), sums: theirCells as Uint32Array[] } } : {})
    }
    const { areas, split } = version === 3
      ? answerAreas({ sums: () => this.init.sums(salt), counts: () => this.init.cells.counts(), cellSums: b => this.init.cells.sums(b, salt) }, digest)
      : { areas: differing(version === 2 ? this.init.sums(salt) : digestOf(this.init.entries(), salt), theirs), split: [] }
    if (areas.size === 0 && split.length === 0) return none
    // The first version's sums were made from `entries`: listed from the same walk.
    const random = this.init.random ?? Math.random
    const listed = version >= 2 ? this.init.listIn?.(areas, SYNC_MAX_STATEMENTS, random) : undefined
    const list = listed !== undefined
      ? { entries: pairs(listed), buckets: listed.buckets, more: listed.more }
      : listDiffering(this.init.entries(), areas, SYNC_MAX_STATEMENTS, random)
    this.init.charge(peer, Math.ceil(list.entries.length / LISTED_PER_UNIT), correlationId)
    return version === 3 ? { ...list, split } : list
  }

  private answerPatch (peer: string, req: { statements: unknown[], want: string[] }, correlationId: string): { statements: SignedStatement[], more: boolean } {
    // Charged up front, what it sends and the most the answer can hold (at least one: an empty
    // patch is a request too), before anything is parsed or looked up; the lookup is per member asked.
    this.init.charge(peer, Math.max(1, req.statements.length + req.want.length), correlationId)
    const answer = this.cut(this.init.passive ? [] : [...new Set(req.want)].filter(m => this.init.gives(m)))
    const full = MemberPatch.request.safeParse(req)
    if (!full.success) throw new ValidationError(`request for "${MemberPatch.name}": ${full.error.issues[0]?.message ?? 'invalid'}`)
    if (!this.init.passive && this.init.takes(peer)) this.init.receive(peer, full.data.statements)
    return answer
  }

  /** What an older build's whole exchange gives: this node's own statement and each live member's (sync-window.ts), none from a client. */
  private syncSet (): SignedStatement[] {
    if (this.init.passive) return []
    const self = this.init.self
    return syncWindow(this.init.held.all(p => p === self), this.init.held.all(p => p !== self && this.init.gives(p)))
  }

  /** The statements of `members`, this node's own first, up to the exchange's limits (`more`: some left out). */
  private cut (members: string[]): { statements: SignedStatement[], more: boolean } {
    const { items, more } = cutWithin(members, this.init.self, m => this.init.held.get(m), statementSize, EXCHANGE_LIMITS)
    return { statements: items, more }
  }

  /** An empty patch within the exchange's limits, filled a member at a time (`Listing.give`). */
  private cutter (): Cut<SignedStatement> { return new Cut(m => this.init.held.get(m), statementSize, EXCHANGE_LIMITS) }
}
