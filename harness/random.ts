/** Seeded randomness for simulations, campaigns and tests: a failing run repeats from its seed. */

/** mulberry32: a small seeded generator, the same sequence for the same seed everywhere, so a failing run repeats from its seed. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
