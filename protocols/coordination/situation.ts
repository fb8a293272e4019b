/**
 * Why a node has no coordinator, in words a person reads on `/coordinator`, in `agentmesh start`'s
 * output and on the live page. The situation says which case; this says what would end it.
 */
export type Situation = 'coordinator' | 'following' | 'electing' | 'no-quorum' | 'no-voter-set'

export interface SituationFacts {
  situation: Situation
  term: number
  /** This node may vote (clients and `coordination.eligible: false` may not). */
  eligible: boolean
  /** A client: no member, so no coordinator's heartbeat ever reaches it. */
  client: boolean
  bootstrapExpect: number
  /** Eligible agents this node sees alive or suspect, itself excluded. */
  eligibleSeen: number
  quorum: { size: number, needed: number, reachable: number }
}

/** A sentence, or null when a coordinator is in office as this node sees it. */
export function situationReason (f: SituationFacts): string | null {
  if (f.client && f.situation !== 'following') return 'this node is a client: it follows no coordinator'
  switch (f.situation) {
    case 'coordinator':
    case 'following':
      return null
    case 'electing':
      return `electing a coordinator (term ${f.term})`
    case 'no-quorum':
      return `no quorum: ${f.quorum.reachable} of ${f.quorum.size} voters reachable, ${f.quorum.needed} needed`
    case 'no-voter-set': {
      const seen = f.eligibleSeen + (f.eligible ? 1 : 0)
      // Enough agents seen: the voter set is theirs to propose, or the coordinator's heartbeat
      // brings it (a node meeting a mesh that elected long ago); "waiting for 3, 5 seen" read as
      // a contradiction.
      const what = seen >= f.bootstrapExpect
        ? `no voter set yet: ${seen} eligible agents seen (coordination.bootstrapExpect ${f.bootstrapExpect}), waiting for their proposals or a coordinator's heartbeat`
        : `waiting for ${f.bootstrapExpect} eligible agents to see each other (coordination.bootstrapExpect), ${seen} seen`
      return f.eligible ? what : `${what}; this node does not vote`
    }
  }
}
