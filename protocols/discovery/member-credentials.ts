/**
 * Who may be a member at all, in a closed mesh. Member statements are relayed (member-wire.ts),
 * so an agent may be a member here without ever connecting to this node, and its statement's
 * signature says only that its key wrote it, not that the mesh let it in. Without a check an
 * admitted agent could sign statements with keys it made up: every agent then listed them as
 * members, alive for good (nobody is connected to them to probe them), held their statements
 * forever, and counted them alive among a forged certificate's signers. So each statement
 * carries its author's credential, and an author not admitted here counts only with a valid
 * credential of this mesh's owner naming it (checked once per credential, remembered).
 *
 * The same credentials say what a member holds (`grants`): /members and `members()` show the
 * roles and capabilities a member's credential grants, never those its statement claims.
 */
import { verifyCredentialNow, type Credential } from '../admission/credential.js'
import { CLOCK_SKEW_MS } from '../admission/constants.js'
import { DEFAULT_MAX_MEMBERS } from './constants.js'

/**
 * Credentials of members not connected here, remembered once checked, the oldest forgotten first,
 * by default (a node passes its table's cap, `remembered`): a member whose credential was
 * forgotten shows no roles or capabilities (`grants`) until its next statement is checked again.
 */
export const MAX_VOUCHED = DEFAULT_MAX_MEMBERS

export interface MemberCredentialsInit {
  /** This node's credential: its issuer is the owner it trusts, and it goes on its own statements. */
  own: Credential
  /** The credential a peer was admitted with here by the card exchange (undefined: not admitted here). */
  credentialOf: (peer: string) => Credential | undefined
  /** Refused, revoked, or connected here and not admitted. */
  distrusts: (peer: string) => boolean
  /** Whether the newest revocation list names it. */
  revoked: (c: Pick<Credential, 'serial' | 'subject'>) => boolean
  /** Credentials remembered at most (MAX_VOUCHED): as many as the table holds members (members.ts `maxMembers`). */
  remembered?: number
}

export class MemberCredentials {
  private readonly init: MemberCredentialsInit
  private readonly vouched = new Map<string, Credential>()

  constructor (init: MemberCredentialsInit) { this.init = init }

  get own (): Credential { return this.init.own }

  /** May `author`, whose statement carried `credential`, be a member? */
  vouches (author: string, credential: unknown): boolean {
    const admitted = this.init.credentialOf(author)
    // Remembered: it may stay a member through relays once its connection here closes.
    if (admitted !== undefined) { this.remember(author, admitted); return true }
    if (this.init.distrusts(author) || credential === undefined) return false
    const now = Date.now()
    const known = this.vouched.get(author)
    if (known !== undefined && known.signature === (credential as { signature?: unknown }).signature) return this.valid(known, now)
    try {
      const { issuer, mesh } = this.init.own
      this.remember(author, verifyCredentialNow(credential, { issuer, mesh, subject: author, now, revoked: this.init.revoked }))
      return true
    } catch {
      return false
    }
  }

  /** The roles and capabilities `peer`'s credential grants, and its serial, if this node holds a valid one. */
  grants (peer: string): { roles: string[], capabilities: string[], serial: string } | undefined {
    const c = this.init.credentialOf(peer) ?? this.vouched.get(peer)
    if (c === undefined || this.init.distrusts(peer) || !this.valid(c, Date.now())) return undefined
    return { roles: c.roles, capabilities: c.capabilities, serial: c.serial }
  }

  private valid (c: Credential, now: number): boolean {
    return c.expiresAt > now - CLOCK_SKEW_MS && !this.init.revoked(c)
  }

  private remember (author: string, c: Credential): void {
    if (this.vouched.get(author) === c) return
    this.vouched.delete(author)
    this.vouched.set(author, c)
    if (this.vouched.size > (this.init.remembered ?? MAX_VOUCHED)) this.vouched.delete(this.vouched.keys().next().value as string)
  }
}
