/**
 * The jitter of agentmesh's timers and retries (issue 41: the same formula was written in five
 * places), so that agents that started, failed or lost a peer together do not act again together.
 * `random` is injectable for tests (Math.random otherwise).
 */

/**
 * `ms` spread evenly within ± `fraction` of itself, [ms·(1 - fraction), ms·(1 + fraction)):
 * ±10% for the member view's and monitoring's periodic timers, ±20% (configurable) for delivery's
 * retries, half either way for the reconnect and voter-link rounds. Not rounded: callers that want
 * whole ms round.
 */
export function jittered (ms: number, fraction: number, random: () => number = Math.random): number {
  return ms + ms * fraction * (2 * random() - 1)
}

/**
 * A wait drawn evenly from [ms/2, ms] ("equal jitter": half fixed, half random), the bootstrap
 * dialer's backoff. Another formula than `jittered` (one-sided, below `ms`): it is kept as the
 * bootstrap had it, so a retry never comes sooner than half its backoff.
 */
export function equalJitter (ms: number, random: () => number = Math.random): number {
  return ms / 2 + random() * ms / 2
}
