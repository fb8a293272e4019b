/**
 * `--set KEY=VALUE` (repeatable) for the benches that start agent processes: config for those
 * agents as AGENTMESH_* variables, given without the prefix (--set COORDINATION_ELECTION_TIMEOUT_MIN_MS=300),
 * so one build can be measured under other timings in the same sitting.
 */
export function configEnv (sets: readonly string[]): Record<string, string> {
  return Object.fromEntries(sets.map(kv => {
    const at = kv.indexOf('=')
    if (at <= 0) throw new Error(`--set wants KEY=VALUE, got "${kv}"`)
    return [`AGENTMESH_${kv.slice(0, at)}`, kv.slice(at + 1)]
  }))
}
