/**
 * "Did you mean": the names nearest a mistyped one, for errors that would otherwise list every
 * name there is (an unknown AGENTMESH_ variable, an agent name nobody has).
 */

/**
 * Edit distance: insertions, deletions, substitutions and swaps of two neighbours, one each (the
 * optimal string alignment distance): "naem" is one edit from "name", as a hand types it.
 */
export function editDistance (a: string, b: string): number {
  // d[i][j]: the distance between a's first i characters and b's first j.
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/**
 * Up to `max` of `names` nearest `name` (case ignored), nearest first; none further than a third
 * of the longer name's length, so a name unlike all of them gets no guess. A name that holds the
 * other whole (a group left out, a suffix dropped; four letters or more) counts as one edit away.
 */
export function nearest (name: string, names: Iterable<string>, max = 3): string[] {
  const typed = name.toLowerCase()
  const scored: Array<{ n: string, d: number }> = []
  for (const n of names) {
    const known = n.toLowerCase()
    const holds = Math.min(typed.length, known.length) >= 4 && (known.includes(typed) || typed.includes(known))
    const d = holds ? Math.min(1, editDistance(typed, known)) : editDistance(typed, known)
    if (d <= Math.max(1, Math.floor(Math.max(typed.length, known.length) / 3))) scored.push({ n, d })
  }
  return scored.sort((x, y) => x.d - y.d || x.n.localeCompare(y.n)).slice(0, max).map(s => s.n)
}
