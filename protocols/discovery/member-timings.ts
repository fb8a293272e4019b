/** The member view's timings (see MemberView for what each drives). */
export interface MemberTimings {
  heartbeatIntervalMs: number
  probeIntervalMs: number
  probeTimeoutMs: number
  silenceMs: number
  /** How often a full exchange of statements with one random neighbour runs. */
  syncIntervalMs: number
  suspicionMinMs: number
  suspicionMaxMs: number
  confirmationsForMin: number
}
