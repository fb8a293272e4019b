// Deterministic stand-ins for the election's signatures in the pure tests (a node signs with its
// libp2p key, protocols/coordination/election-keys.ts). A fake signature names its signer and
// the statement; nobody but the signer's own keys makes one, as the adversaries here play fair
// with the crypto and cheat in everything else.
import { voteStatement } from '../protocols/coordination/election-proof.js'
import type { Certificate, ElectionKeys, VoterConfig } from '../protocols/coordination/election.js'

/**
 * An election alone on the pure tests' clock (election-audience, election-roll): one voter that
 * elects itself, heartbeats every 100 ms, and announcements only when something makes them.
 */
export const LONE_TIMINGS = {
  heartbeatIntervalMs: 100,
  electionTimeoutMinMs: 400,
  electionTimeoutMaxMs: 800,
  voterRemoveAfterMs: 60_000,
  bootstrapExpect: 1,
  announceIntervalMs: 600_000
} as const

/** FNV-1a, to keep fake signatures short. */
function hash (s: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return (h >>> 0).toString(36)
}

export function fakeKeys (self: string): ElectionKeys {
  return {
    sign: (statement) => `${self}:${hash(statement)}`,
    verify: (peer, statement, sig) => sig === `${peer}:${hash(statement)}`
  }
}

/** A certificate for `leader` in `term`, signed by `signers` (who must be voters of `config` for it to hold). */
export function certificate (term: number, leader: string, config: VoterConfig, signers: string[]): Certificate {
  const statement = voteStatement(term, leader)
  return { term, leader, config, votes: signers.map(voter => ({ voter, sig: fakeKeys(voter).sign(statement) })) }
}
