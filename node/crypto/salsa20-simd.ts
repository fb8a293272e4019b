// WebAssembly's types are declared by TypeScript's DOM library only (@types/node has none); the
// build (tsconfig.build.json, the container image) includes no test file that would bring them.
/// <reference lib="dom" />
/**
 * Salsa20's key stream, four blocks at a time in WebAssembly SIMD: what the mesh key's XSalsa20
 * (node/mesh-key.ts) spends its CPU on. @noble/ciphers' pure-JS core reaches ~175-280 MB/s here,
 * a third of the broadcast's CPU with `security.psk`; each 32-bit word of the state as one v128
 * holding that word of four consecutive blocks runs the same rounds on four blocks at once.
 *
 * The module is written here as bytes (no toolchain at build time, nothing fetched at run time):
 * one function, `xor(ptr, groups, lo, hi)`, XORs `groups` × 256 bytes at `ptr` with the key
 * stream of blocks lo|hi.. (the 64-bit block counter), reading the key's eight words and the
 * nonce's two from the first 40 bytes of its memory. Its memory never grows, so no view of it
 * goes stale (the fault that keeps `@libp2p/pnet`'s cipher out, node/mesh-key.ts).
 */

/** Salsa20's constant words, "expand 32-byte k" (HSalsa20's too: node/mesh-key.ts). */
export const SIGMA: readonly number[] = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]

/** Bytes of memory the module has: one 64 KiB page. */
const PAGE = 65_536
/** Where the data to XOR starts in the module's memory (after the key and nonce). */
export const DATA_AT = 256
/** The most bytes one call XORs: the page after DATA_AT, in whole groups of four blocks. */
export const DATA_MAX = Math.floor((PAGE - DATA_AT) / 256) * 256

const SIMD = 0xfd
const LOCAL_GET = 0x20
const LOCAL_SET = 0x21
const LOCAL_TEE = 0x22
const I32_CONST = 0x41
const I32_LOAD = 0x28
const I32_ADD = 0x6a
const I32_SUB = 0x6b
const I32_LT_U = 0x49
const BR_IF = 0x0d
const LOOP = 0x03
const END = 0x0b
const V128 = 0x7b
const I32 = 0x7f

/** Unsigned LEB128, as every integer in a module is written. */
function uleb (n: number): number[] {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
  return out
}

/** Signed LEB128 (i32.const's immediate). */
function sleb (n: number): number[] {
  const out: number[] = []
  for (;;) {
    const b = n & 0x7f
    n >>= 7
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { out.push(b); return out }
    out.push(b | 0x80)
  }
}

const simd = (op: number): number[] => [SIMD, ...uleb(op)]
const memarg = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)]
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body]
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()]

// SIMD opcodes (the WebAssembly SIMD proposal, merged in the 2.0 spec).
const V128_LOAD = 0x00
const V128_STORE = 0x0b
const V128_CONST = 0x0c
const I8X16_SHUFFLE = 0x0d
const I32X4_SPLAT = 0x11
const I32X4_LT_U = 0x3a
const V128_OR = 0x50
const V128_XOR = 0x51
const I32X4_SHL = 0xab
const I32X4_SHR_U = 0xad
const I32X4_ADD = 0xae
const I32X4_SUB = 0xb1

/** The body of `xor(ptr i32, groups i32, lo i32, hi i32)`. */
function xorBody (): number[] {
  // Locals: params 0-3; x0..x15 (4-19) the working state; o0..o15 (20-35) the input state; t0..t3 (36-39); the rounds left (40).
  const PTR = 0; const GROUPS = 1; const LO = 2; const HI = 3
  const x = (i: number): number => 4 + i
  const o = (i: number): number => 20 + i
  const t = (i: number): number => 36 + i
  const ROUNDS = 40
  const code: number[] = []
  const get = (l: number): void => { code.push(LOCAL_GET, ...uleb(l)) }
  const set = (l: number): void => { code.push(LOCAL_SET, ...uleb(l)) }
  const i32 = (n: number): void => { code.push(I32_CONST, ...sleb(n)) }

  // The constant words and the key's and nonce's words, splat once per call.
  const keyWord = [1, 2, 3, 4, 11, 12, 13, 14]
  for (const [i, w] of [[0, SIGMA[0]], [5, SIGMA[1]], [10, SIGMA[2]], [15, SIGMA[3]]]) { i32(w | 0); code.push(...simd(I32X4_SPLAT)); set(o(i)) }
  keyWord.forEach((wi, k) => { i32(0); code.push(I32_LOAD, ...memarg(2, 4 * k), ...simd(I32X4_SPLAT)); set(o(wi)) })
  for (const [wi, at] of [[6, 32], [7, 36]]) { i32(0); code.push(I32_LOAD, ...memarg(2, at), ...simd(I32X4_SPLAT)); set(o(wi)) }

  code.push(LOOP, 0x40)
  // The counter words of blocks lo..lo+3: low words lo+0..3, high words hi plus the carry of each lane.
  get(LO); code.push(...simd(I32X4_SPLAT)); set(t(0))
  get(t(0)); code.push(...simd(V128_CONST), ...new Uint8Array(new Uint32Array([0, 1, 2, 3]).buffer), ...simd(I32X4_ADD)); set(o(8))
  // A lane whose low word wrapped is below the splat: lt_u gives -1 there, and hi - (-1) carries.
  get(HI); code.push(...simd(I32X4_SPLAT)); get(o(8)); get(t(0)); code.push(...simd(I32X4_LT_U), ...simd(I32X4_SUB)); set(o(9))
  for (let i = 0; i < 16; i++) { get(o(i)); set(x(i)) }

  // b ^= (a + d) <<< 7; c ^= (b + a) <<< 9; d ^= (c + b) <<< 13; a ^= (d + c) <<< 18
  const step = (target: number, p: number, q: number, r: number): void => {
    get(x(target)); get(x(p)); get(x(q)); code.push(...simd(I32X4_ADD)); code.push(LOCAL_TEE, ...uleb(t(0)))
    i32(r); code.push(...simd(I32X4_SHL)); get(t(0)); i32(32 - r); code.push(...simd(I32X4_SHR_U), ...simd(V128_OR), ...simd(V128_XOR)); set(x(target))
  }
  const quarter = (a: number, b: number, c: number, d: number): void => {
    step(b, a, d, 7); step(c, b, a, 9); step(d, c, b, 13); step(a, d, c, 18)
  }
  // Ten double rounds, as a loop: unrolled, the module is 10.7 KB against 2.4 and 10% faster
  // (1,665 against 1,500 MB/s here, both 5× the JS core), and a browser compiles only small
  // modules synchronously on its main thread.
  i32(10); set(ROUNDS)
  code.push(LOOP, 0x40)
  quarter(0, 4, 8, 12); quarter(5, 9, 13, 1); quarter(10, 14, 2, 6); quarter(15, 3, 7, 11)
  quarter(0, 1, 2, 3); quarter(5, 6, 7, 4); quarter(10, 11, 8, 9); quarter(15, 12, 13, 14)
  get(ROUNDS); i32(1); code.push(I32_SUB, LOCAL_TEE, ...uleb(ROUNDS), BR_IF, 0, END)
  for (let i = 0; i < 16; i++) { get(x(i)); get(o(i)); code.push(...simd(I32X4_ADD)); set(x(i)) }

  // x[w] holds word w of the four blocks (lane j = block j); a 4×4 transpose of words w..w+3 gives
  // block j's 16 bytes at 64j + 4w, XORed into the data there.
  const lanes = (idx: number[]): number[] => idx.flatMap(i => [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3])
  const shuffle = (idx: number[]): void => { code.push(...simd(I8X16_SHUFFLE), ...lanes(idx)) }
  for (let w = 0; w < 16; w += 4) {
    get(x(w)); get(x(w + 1)); shuffle([0, 4, 1, 5]); set(t(0)) // a0 b0 a1 b1
    get(x(w)); get(x(w + 1)); shuffle([2, 6, 3, 7]); set(t(1)) // a2 b2 a3 b3
    get(x(w + 2)); get(x(w + 3)); shuffle([0, 4, 1, 5]); set(t(2)) // c0 d0 c1 d1
    get(x(w + 2)); get(x(w + 3)); shuffle([2, 6, 3, 7]); set(t(3)) // c2 d2 c3 d3
    const blocks: Array<[number, number, number[]]> = [
      [t(0), t(2), [0, 1, 4, 5]], [t(0), t(2), [2, 3, 6, 7]], [t(1), t(3), [0, 1, 4, 5]], [t(1), t(3), [2, 3, 6, 7]]
    ]
    blocks.forEach(([l, r, idx], j) => {
      const at = 64 * j + 4 * w
      get(PTR); get(PTR); code.push(...simd(V128_LOAD), ...memarg(0, at)); get(l); get(r); shuffle(idx)
      code.push(...simd(V128_XOR), ...simd(V128_STORE), ...memarg(0, at))
    })
  }

  get(PTR); i32(256); code.push(I32_ADD); set(PTR)
  // lo += 4, and hi += 1 when that wrapped.
  get(LO); i32(4); code.push(I32_ADD, LOCAL_TEE, ...uleb(LO)); i32(4); code.push(I32_LT_U); get(HI); code.push(I32_ADD); set(HI)
  get(GROUPS); i32(1); code.push(I32_SUB, LOCAL_TEE, ...uleb(GROUPS), BR_IF, 0, END, END)
  const locals = vec([[...uleb(36), V128], [1, I32]])
  const body = [...locals, ...code]
  return [...uleb(body.length), ...body]
}

/** The whole module's bytes. */
export function salsaModuleBytes (): Uint8Array<ArrayBuffer> {
  const type = section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32]]), 0]]))
  const func = section(3, vec([[0]]))
  const memory = section(5, vec([[0x01, 1, 1]])) // one page, at most one: it never grows
  const name = (n: string): number[] => vec([...n].map(c => [c.charCodeAt(0)]))
  const exportSec = section(7, vec([[...name('memory'), 0x02, 0], [...name('xor'), 0x00, 0]]))
  const code = section(10, vec([xorBody()]))
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...func, ...memory, ...exportSec, ...code])
}

/** The compiled cipher of this process, or undefined where WebAssembly SIMD is missing (the caller keeps the JS one). */
export interface SalsaSimd {
  /** The module's memory: key words at 0-31, nonce words at 32-39, data from DATA_AT. */
  memory: Uint8Array
  xor: (ptr: number, groups: number, lo: number, hi: number) => void
  /** Whose key the memory holds now (node/mesh-key.ts's KeyStream); whoever writes the key bytes sets it. */
  owner?: object
}

let compiled: SalsaSimd | null | undefined

export function salsaSimd (): SalsaSimd | undefined {
  if (compiled !== undefined) return compiled ?? undefined
  compiled = null
  try {
    const bytes = salsaModuleBytes()
    if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(bytes)) return undefined
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes))
    const mem = instance.exports.memory as WebAssembly.Memory
    compiled = { memory: new Uint8Array(mem.buffer), xor: instance.exports.xor as SalsaSimd['xor'] }
  } catch {
    compiled = null
  }
  return compiled ?? undefined
}
