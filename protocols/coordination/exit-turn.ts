import { fnv1a } from '../core/fnv1a.js'

/**
 * The order voters campaign in after their coordinator's process exited (Election.peerExited):
 * the last connection to it closed and a connection to it then was refused at every address
 * (nothing listens there; one that timed out tells nothing, as a partition looks the same).
 * ZooKeeper's followers go looking as soon as the leader's socket closes. Nothing on the wire
 * proves an exit (a reset and a refusal can be forged on the path), so the word frees only what
 * is not promised (voter-hold.ts): the lease counts on the promise alone, and two coordinators
 * are never in office at once whatever the election is told.
 *
 * With one random wait in a short window, two or three voters campaigned within a round trip of
 * each other and split the votes (5 agent processes, 8 kills in 20), and the timeout decided
 * after all. So they take turns: one turn of an eighth of the minimum timeout per voter before
 * it, in an order every voter computes alike (a hash of the term and the peer id, so the first
 * is not always the same agent), the first after half a turn (the others' promises, which end
 * about when its own does, must have ended when its pre-vote reaches them). A turn is several
 * campaign round trips long: the first candidate's vote request reaches the next before its
 * turn, and it votes instead (a vote resets its wait). Who is not first waits on only if the
 * ones before it are down or slow, a turn each. A little jitter for voters whose sets differ
 * for a moment.
 */
export function exitTurn (voters: string[], gone: string, self: string, term: number, minTimeoutMs: number, random: () => number): number {
  const turn = minTimeoutMs / 8
  const key = (peer: string): number => fnv1a(`${term}:${peer}`)
  const order = voters.filter(v => v !== gone).sort((a, b) => key(a) - key(b) || (a < b ? -1 : 1))
  const before = Math.max(0, order.indexOf(self))
  return Math.ceil(turn * (0.5 + before) + random() * turn / 8)
}
