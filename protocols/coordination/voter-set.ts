/**
 * The voter-set rules of the election, pure (after hashicorp/raft's configuration.go): how a
 * bootstrap proposal is formed and matched, which of two sets is newer or at least as up to
 * date, which votes win, and which single change the leader makes next. No state and no time
 * of their own: the election passes in what it knows.
 *
 * The voter set is the election's only replicated state. It changes one voter at a time
 * (dissertation 4.1, single-server changes), each change committed by a majority of the new set
 * before the next, and only after the leader committed an entry of its own term (the fix for the
 * bug Ongaro found in single-server changes). Its "log position" is (config term, config
 * version), which decides whether a candidate is up to date.
 *
 * Bootstrap as in Consul's `bootstrap_expect`: before any voter set exists, a node that sees
 * `bootstrapExpect` eligible agents proposes them all as the first voter set; a voter without a
 * set votes only for a proposal equal to what it sees itself, and a proposal wins only with
 * every proposed voter's vote. Two groups that cannot see each other can still both bootstrap
 * if each has `bootstrapExpect` agents: set it above half the agents that start the mesh, as
 * Consul asks of its servers. Once a leader exists, agents that join are added by the leader,
 * and voters that announced they leave, or stayed unreachable for `voterRemoveAfterMs`, are
 * removed (Consul autopilot's dead-server clean-up), never below `bootstrapExpect` voters.
 */

export interface VoterConfig {
  /** Raised by one on every change. */
  version: number
  /** The term of the leader that made this set (0 for a bootstrap proposal). */
  term: number
  /** Peer ids, sorted. */
  voters: string[]
}

export interface MemberInfo {
  peer: string
  eligible: boolean
  /** It announced that it leaves: a voter that left is removed at once, not after `voterRemoveAfterMs`. */
  left?: boolean
}

/** Votes (or acks) needed among `size` voters. */
export function majority (size: number): number { return Math.floor(size / 2) + 1 }

export function sameVoters (a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

/** The same set: same term, version and voters. */
export function sameConfig (a: VoterConfig | undefined, b: VoterConfig): boolean {
  return a !== undefined && a.term === b.term && a.version === b.version && sameVoters(a.voters, b.voters)
}

/** Raft's "at least as up to date", with (config term, config version) as the log position. */
export function upToDate (candidate: VoterConfig, mine: VoterConfig): boolean {
  return candidate.term > mine.term || (candidate.term === mine.term && candidate.version >= mine.version)
}

/** Strictly newer: made in a later term, or later in the same term. */
export function newer (a: VoterConfig, b: VoterConfig): boolean {
  return a.term > b.term || (a.term === b.term && a.version > b.version)
}

/**
 * Consul's `bootstrap_expect`: the first voter set this node would propose, once it sees
 * `bootstrapExpect` eligible agents (itself included); undefined before that. At most
 * `maxVoters` of them, the lowest peer ids: agents that see the same lowest ones propose the same
 * set, whatever else each sees (the others join as non-voters).
 */
export function bootstrapProposal (self: string, members: MemberInfo[], bootstrapExpect: number, maxVoters = Infinity): VoterConfig | undefined {
  const voters = [self, ...members.filter(m => m.eligible && m.left !== true && m.peer !== self).map(m => m.peer)].sort()
  if (voters.length < bootstrapExpect) return undefined
  return { version: 1, term: 0, voters: voters.slice(0, Math.max(1, maxVoters)) }
}

/** A voter without a set votes for a bootstrap proposal only when it equals its own. */
export function matchesProposal (proposal: VoterConfig, mine: VoterConfig | undefined): boolean {
  return mine !== undefined && sameVoters(mine.voters, proposal.voters)
}

/**
 * Do these votes win with this set? A majority; but a bootstrap proposal needs every proposed
 * voter, so two proposals made from different views cannot both win (a shared voter's view
 * would have to equal both). Only the set's voters count: a non-voter's vote is no vote.
 */
export function wins (config: VoterConfig, votes: ReadonlySet<string>): boolean {
  const granted = config.voters.filter(v => votes.has(v)).length
  return config.term === 0 ? granted === config.voters.length : granted >= majority(config.voters.length)
}

export interface VoterChangeInput {
  self: string
  config: VoterConfig
  /** The agents alive in the member view, itself excluded; those that left are flagged. */
  members: MemberInfo[]
  /** When the leader last heard from each voter. */
  lastHeard: ReadonlyMap<string, number>
  now: number
  bootstrapExpect: number
  voterRemoveAfterMs: number
  /** The cap: eligible agents beyond it are non-voters, promoted when a voter is lost. */
  maxVoters: number
  /**
   * A voter gone from the member view (offline) and not heard from this long is lost, and
   * replaced at once when a non-voter can take its place (five maximum election timeouts).
   */
  lostAfterMs: number
}

/**
 * The leader's next single change (dissertation 4.1), or undefined. As Consul's autopilot does
 * with its non-voting servers, the set is kept at `maxVoters` and the eligible agents beyond it
 * wait as non-voters:
 *
 * - Over the cap (a set made before the cap was lowered), a voter goes: a lost one first.
 * - Under it, an eligible non-voter alive in the member view is promoted (the lowest peer id,
 *   so every leader makes the same choice).
 * - A voter that announced it left, or was silent for `voterRemoveAfterMs`, is removed while the
 *   set is above `bootstrapExpect` (Consul autopilot's dead-server clean-up); and a voter lost
 *   (offline in the member view, unheard for `lostAfterMs`) is removed at once when a non-voter
 *   is there to take its place, which the next change promotes. So a lost voter is replaced in
 *   two changes, and the set never goes below the cap's majority for it.
 *
 * The leader never removes itself.
 */
export function nextVoters (i: VoterChangeInput): string[] | undefined {
  const { config, self, now } = i
  const voters = config.voters
  const alive = new Set(i.members.filter(m => m.left !== true).map(m => m.peer))
  const left = new Set(i.members.filter(m => m.left === true).map(m => m.peer))
  const silentFor = (v: string): number => now - (i.lastHeard.get(v) ?? now)
  const lost = (v: string): boolean => v !== self && (left.has(v) || silentFor(v) >= i.voterRemoveAfterMs || (!alive.has(v) && silentFor(v) >= i.lostAfterMs))
  const cap = Math.max(1, i.maxVoters)
  if (voters.length > cap) {
    const out = voters.find(lost) ?? [...voters].reverse().find(v => v !== self)
    return out !== undefined ? voters.filter(v => v !== out) : undefined
  }
  const candidates = i.members.filter(m => m.eligible && m.left !== true && !voters.includes(m.peer)).map(m => m.peer).sort()
  if (voters.length < cap && candidates.length > 0) return [...voters, candidates[0]].sort()
  const gone = voters.find(v => v !== self && left.has(v)) ??
    voters.find(v => v !== self && silentFor(v) >= i.voterRemoveAfterMs) ??
    (candidates.length > 0 ? voters.find(lost) : undefined)
  if (gone === undefined) return undefined
  const replaced = candidates.length > 0 && voters.length - 1 >= majority(cap)
  if (voters.length <= Math.min(i.bootstrapExpect, cap) && !replaced) return undefined
  return voters.filter(v => v !== gone)
}
