// Wire sizes for the scale simulation (bench/sim.ts): what each simulated message would take on
// the wire, from real-shaped values. A statement's size is statementSize() (protocols/discovery/member-wire.ts)
// of a statement shaped as a closed mesh's node signs it: a real-length peer id, one address,
// an Ed25519 signature, the author's credential. Other messages: their JSON with real-length
// peer ids, plus RPC_OVERHEAD_BYTES for the envelope and framing.
import { statementSize, type SignedStatement } from '../protocols/discovery/member-wire.js'
import type { Statement } from '../harness/sim-model.js'

/** A peer id as libp2p prints an Ed25519 one: 52 characters. */
const PEER_ID = '12D3KooWGzBWjDEZ2Fn2yUS7V3SWkv9hVHaPNnaHfVe4vcKzZ3xb'
const CLOCK = 1_767_225_600_000
const SIG = 'A'.repeat(86) + '=='

/**
 * What an RPC message costs beyond its payload, assumed: the envelope (id, sender, type,
 * timestamp: ~110 bytes as JSON), the rpc frame's header, yamux's 12-byte header and Noise's
 * 16-byte tag with its 2-byte length. A gossipsub message carries about as much (its own
 * protobuf fields, the signature-less envelope).
 */
export const RPC_OVERHEAD_BYTES = 160

/** A digest answer's entry, `["<peer id>",<seq>],` as JSON; a wanted member in a patch, `"<peer id>",`. */
export const ENTRY_BYTES = JSON.stringify([PEER_ID, CLOCK]).length + 1
export const WANT_BYTES = PEER_ID.length + 3

function credential (eligible: boolean): object {
  return {
    v: 1,
    mesh: 'production',
    issuer: PEER_ID,
    subject: PEER_ID,
    roles: eligible ? ['coordinator'] : [],
    capabilities: [],
    serial: '0123456789abcdef0123456789abcdef',
    issuedAt: CLOCK,
    expiresAt: CLOCK + 86_400_000 * 90,
    signature: SIG
  }
}

function realShaped (suspects: number, eligible: boolean, closed: boolean): SignedStatement {
  const body = JSON.stringify({
    peerId: PEER_ID,
    name: 'agent-00001',
    roles: [],
    eligible,
    incarnation: CLOCK,
    suspects: Array.from({ length: suspects }, () => ({ peerId: PEER_ID, incarnation: CLOCK })),
    seq: CLOCK,
    addrs: ['/ip4/10.20.30.40/tcp/4001']
  })
  return { body, sig: SIG, ...(closed ? { cred: credential(eligible) as SignedStatement['cred'] } : {}) }
}

/** statementSize() of real-shaped statements: a base per eligibility, and what each suspect named adds. */
export function statementSizer (closed: boolean): (st: Statement) => number {
  const base = [false, true].map(e => statementSize(realShaped(0, e, closed)))
  const perSuspect = statementSize(realShaped(1, false, closed)) - base[0]
  return st => base[st.eligible ? 1 : 0] + perSuspect * st.suspects.length
}

/** A message's JSON with the simulation's short ids ("a123") counted at a real peer id's length. */
export function jsonSize (msg: unknown): number {
  const json = JSON.stringify(msg)
  let size = json.length
  for (const m of json.matchAll(/"a\d+"/g)) size += PEER_ID.length + 2 - m[0].length
  return size
}

/** A gossip message's answer: which statements the receiver held already, as a 32-bit mask (member-wire.ts MemberGossip). */
export const GOSSIP_ANSWER_BYTES = RPC_OVERHEAD_BYTES + JSON.stringify({ known: 0xffffffff }).length
export const PROBE_BYTES = RPC_OVERHEAD_BYTES + JSON.stringify({ incarnation: CLOCK }).length
export const PROBE_ACK_BYTES = RPC_OVERHEAD_BYTES + JSON.stringify({ incarnation: CLOCK, eligible: true, name: 'agent-00001', roles: [] }).length
