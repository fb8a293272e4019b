/**
 * The member view of a node (protocols/discovery/members.ts), wired to what it needs: the node's identity
 * key for its statements, its addresses, the admission's credentials (closed mesh), the limits'
 * per-peer counting and the audit.
 */
import { maxMembersOf, type AgentConfig } from './config.js'
import type { Observer } from './observe.js'
import type { NodeHost } from './service-types.js'
import type { Admission } from './admission.js'
import type { Membership } from '../protocols/discovery/membership.js'
import type { RpcService } from '../protocols/rpc/index.js'
import type { AuditSink } from '../protocols/core/audit.js'
import type { Credential } from '../protocols/admission/credential.js'
import { MemberView, memberAddresses } from '../protocols/discovery/members.js'
import { statementKeys, type StatementKeys } from '../protocols/discovery/statement-keys.js'
import { MemberCredentials } from '../protocols/discovery/member-credentials.js'
import { privateKeyOf } from '../protocols/coordination/election-keys.js'
import { PeerLabels } from '../protocols/rpc/limits.js'
import { MAX_LABELLED_PEERS } from '../protocols/rpc/constants.js'

/** The node's parts a member view is wired to. */
interface MemberViewParts {
  rpc: RpcService
  membership: Membership
  admission: Admission
  audit: AuditSink
  topics: () => string[]
  agreed: (peer: string) => boolean
  /** Whom it probes and gossips to (default: every agent connected; with views, the active view). */
  neighbours?: () => Iterable<string>
  /** An author first heard of with its addresses (member-addresses.ts): the peer dialer's candidate. */
  learnt?: (peerId: string) => void
}

export function buildMemberView (
  host: NodeHost,
  s: MemberViewParts,
  observer: Observer
): MemberView {
  const { config, libp2p, stats } = host
  const { rpc, membership, admission, audit, agreed } = s
  const memberLabels = new PeerLabels(MAX_LABELLED_PEERS)
  const maxMembers = maxMembersOf(config)
  return new MemberView({
    ...config.membership,
    maxMembers,
    self: { peerId: host.peerId, name: host.name, roles: config.roles, eligible: selfEligible(config, admission) },
    rpc,
    keys: countedKeys(statementKeys(privateKeyOf(libp2p), config.mesh), (kind) => { stats.inc('member_statements_total', { kind }) }),
    neighbours: s.neighbours ?? (() => membership.peerIds()),
    agreed,
    // A full exchange refused over its budget is also counted by peer, with the rpc limits' refusals.
    onRejected: (reason, from) => { stats.inc('gossip_rejected_total', { reason: `member_${reason}` }); if (reason === 'sync_over_budget') stats.inc('rpc_rate_limited_total', { peer: memberLabels.label(from), limit: 'member_sync' }) },
    audit,
    passive: config.client,
    ignores: (peer) => membership.isClient(peer) || admission.distrusts(peer),
    ...(admission.closed ? { mayBeEligible: (peer: string) => admission.mayBeEligible(peer) } : {}),
    ...(admission.credential !== undefined ? { credentials: memberCredentials(admission, admission.credential, maxMembers) } : {}),
    onError: (err) => { observer.error('member heartbeat not sent', err, 'debug') },
    addresses: memberAddresses(libp2p, libp2p.services.statedAddresses, s.learnt),
    topics: s.topics
  })
}

/** Statements carry this node's credential; an author not admitted here needs a valid one (closed mesh). */
const memberCredentials = (a: Admission, own: Credential, remembered: number): MemberCredentials =>
  new MemberCredentials({ own, credentialOf: p => a.credentialOf(p), distrusts: p => a.distrusts(p), revoked: c => a.revoked(c), remembered })

/**
 * Whether this node may vote and be elected: `coordination.eligible`, never as a client, and in a
 * closed mesh only when its own credential grants the coordinator role (docs/security.md).
 */
export function selfEligible (config: AgentConfig, admission: Admission): boolean {
  return config.coordination.eligible && !config.client && admission.selfEligible
}

/** The statements this node signs and checks, counted: each costs a signature, and a failure in the mesh makes statements. */
function countedKeys (keys: StatementKeys, count: (kind: 'signed' | 'checked') => void): StatementKeys {
  return {
    sign: (body) => { count('signed'); return keys.sign(body) },
    verify: (author, body, sig) => { count('checked'); return keys.verify(author, body, sig) }
  }
}
