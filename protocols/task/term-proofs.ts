/**
 * Who led a term, as a coordinator taking office can tell (coordinator-signed task records,
 * record-seal.ts). A record is signed by a peer and names a term; the signature proves only the
 * peer. That the peer led that term is proven by the certificate of its election
 * (coordination/election-proof.ts): the signed votes of a majority of a voter set for that term
 * and that leader. A voter signs one candidate per term at most, so no two leaders of one term can
 * each hold a majority of one set's signatures.
 *
 * Where the certificates come from: the coordinator sends its own with its first replicate
 * request of a term to each voter, and every voter keeps the certificates of the last
 * TERM_CERTS_KEPT terms, on disk beside its replica (the store's 'task-terms' space). A voter
 * answering a takeover's read sends the certificates of the terms its records name. A certificate
 * alone is not trusted: its voter set is the certificate's own claim (a hostile voter could make
 * up a set of one, itself, and sign its own vote). So the reader requires that the signers
 * include a majority of the voter set it holds now: a term proven that way had a majority of
 * today's voters vote for its leader. A term whose voters were replaced by more than a minority
 * since cannot be proven that way; the reader then trusts only the terms whose leader its own
 * election accepted (`followed`, after checking that leader's certificate at the time), and
 * refuses the rest. See docs/security.md ("Signed messages") for what that leaves open.
 */
import type { Office } from '../coordination/office.js'
import type { Certificate, ElectionKeys } from '../coordination/election-types.js'
import { voteStatement } from '../coordination/election-proof.js'
import { majority, wins } from '../coordination/voter-set.js'
import type { StoreSpace } from '../core/store.js'

/** Certificates (and followed leaders) kept: terms rise one per election, so this spans a long history. */
export const TERM_CERTS_KEPT = 256

export interface TermProofsInit {
  self: string
  office: Office
  /** Checks the votes' signatures (coordination/election-keys.ts, this mesh's domain). */
  keys: Pick<ElectionKeys, 'verify'>
  /** The store's 'task-terms' space: the certificates, by term (zero-padded, so in term order). */
  space: StoreSpace<Certificate>
  error: (err: Error) => void
}

const keyOf = (term: number): string => String(term).padStart(16, '0')

export class TermProofs {
  private readonly init: TermProofsInit
  /** Certificates kept, by term. */
  private readonly certs = new Map<number, Certificate>()
  /** Leaders this node's election accepted, by term. */
  private readonly followed = new Map<number, string>()
  /**
   * Certificates a takeover's read was offered, by term; and the verdicts reached, by term and
   * leader. A verdict holds only until a certificate of its term comes: a record checked before
   * a voter's page brought the certificate that proves its term was refused for good, from every
   * copy (the fault campaign's seed 657022656 lost an acknowledged task that way).
   */
  private readonly offered = new Map<number, Certificate[]>()
  private readonly verdicts = new Map<number, Map<string, boolean>>()
  /** Voters that hold this coordinator's certificate of the term (voter -> term). */
  private readonly sentTo = new Map<string, number>()

  constructor (init: TermProofsInit) { this.init = init }

  load (): void {
    for (const [, c] of this.init.space.entries()) this.certs.set(c.term, c)
  }

  /** The office changed: the leader of `term`, as this node's election accepted it (its certificate checked). */
  follow (term: number, leader: string | undefined): void {
    if (leader === undefined) return
    this.followed.set(term, leader)
    for (const t of this.followed.keys()) { if (this.followed.size <= TERM_CERTS_KEPT) break; this.followed.delete(t) }
  }

  /** This coordinator's certificate, if `voter` has not had it in this term yet (sent with the next replicate request). */
  toSend (voter: string, term: number): Certificate | undefined {
    if (this.sentTo.get(voter) === term) return undefined
    const c = this.init.office.certificate?.()
    if (c === undefined || c.term !== term || c.leader !== this.init.self) return undefined
    // Kept here too: a record this coordinator wrote may later be read from its own replica
    // alone (the voters' copies newer or gone), and the reader needs the term proven. A fuller
    // one (late votes) replaces the one kept; the same one is not written again.
    this.keep(c, this.init.self, term)
    return c
  }

  sent (voter: string, term: number): void { this.sentTo.set(voter, term) }

  /**
   * A certificate that came with the coordinator's replicate request of `term` (fenced: `from`
   * is the leader this node follows in it): kept, unchecked (the reader checks it). A fuller one
   * (late votes and endorsements added) replaces the one held.
   */
  keep (cert: Certificate, from: string, term: number): void {
    if (cert.term !== term || cert.leader !== from) return
    const held = this.certs.get(term)
    if (held !== undefined && held.votes.length >= cert.votes.length) return
    this.certs.set(term, cert)
    this.reopen(term)
    const gone: number[] = []
    for (const t of [...this.certs.keys()].sort((a, b) => a - b)) { if (this.certs.size - gone.length <= TERM_CERTS_KEPT) break; gone.push(t) }
    for (const t of gone) this.certs.delete(t)
    Promise.all([this.init.space.put(keyOf(term), cert), ...gone.map(async t => { await this.init.space.remove(keyOf(t)) })])
      .catch((err: Error) => { this.init.error(err) })
  }

  /** The certificates of these terms held here, for a reader. */
  forTerms (terms: Iterable<number>): Certificate[] {
    return [...new Set(terms)].flatMap(t => this.certs.get(t) ?? [])
  }

  /** A certificate a voter sent with its records, during a takeover's read. */
  offer (cert: Certificate): void {
    const list = this.offered.get(cert.term) ?? []
    if (list.length < 8) { list.push(cert); this.offered.set(cert.term, list); this.reopen(cert.term) }
  }

  /** A certificate of `term` came: the verdicts that it is unproven are open again (those that it is proven stand). */
  private reopen (term: number): void {
    const verdicts = this.verdicts.get(term)
    if (verdicts !== undefined) for (const [by, ok] of verdicts) if (!ok) verdicts.delete(by)
  }

  /** After a takeover's read: forget what was offered and concluded (the voter set may change before the next). */
  clear (): void { this.offered.clear(); this.verdicts.clear() }

  /** Why `by` is not proven to have led `term`, for a reader in office in `current`; undefined when it is. */
  fault (term: number, by: string, current: number): string | undefined {
    if (by === this.init.self) return undefined // this node signs only what it writes in office
    if (term >= current) return `${by} signed a record of term ${term}, and this node leads term ${current}`
    if (this.followed.get(term) === by) return undefined
    const verdicts = this.verdicts.get(term) ?? new Map<string, boolean>()
    let ok = verdicts.get(by)
    if (ok === undefined) {
      const voters = this.init.office.voters()
      const candidates = [...this.offered.get(term) ?? [], ...this.certs.has(term) ? [this.certs.get(term) as Certificate] : []]
      ok = candidates.some(c => this.proves(c, term, by, voters))
      verdicts.set(by, ok)
      this.verdicts.set(term, verdicts)
    }
    return ok ? undefined : `no certificate shows that ${by} led term ${term} (signed by a majority of the current voters)`
  }

  private proves (cert: Certificate, term: number, leader: string, voters: string[]): boolean {
    const { config } = cert
    if (cert.term !== term || cert.leader !== leader || config.term > term || !config.voters.includes(leader)) return false
    const signers = new Set<string>()
    for (const { voter } of cert.votes) {
      if (signers.has(voter) || !config.voters.includes(voter)) return false
      signers.add(voter)
    }
    if (!wins(config, signers) || voters.filter(v => signers.has(v)).length < majority(voters.length)) return false
    const statement = voteStatement(term, leader)
    return cert.votes.every(({ voter, sig }) => this.init.keys.verify(voter, statement, sig))
  }
}
