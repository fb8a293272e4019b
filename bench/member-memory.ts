/**
 * node --expose-gc dist/bench/member-memory.js [--members 1000,4096,16384] [--shape ordinary|largest]
 *
 * What a member costs a node's member view (protocols/discovery/members.ts) in heap: for each N, a
 * fresh view is fed N members' statements by relays (1,000 a relay, within each one's budget of
 * checks, as full exchanges bring them), the heap is collected, and its growth is divided by N.
 * No network: the view's rpc answers nothing and its signatures pass unchecked, so the figure is
 * what the view holds. `ordinary`: a statement as a node signs it (a 52-character peer id, a
 * name, one address, no suspects: ~300 B). `largest`: near the most the wire takes (256 made-up
 * suspects, 32 roles of 64 characters, 8 addresses of 256: ~26 KB), what a flood of made-up
 * members costs an open mesh. How constants.ts DEFAULT_MAX_MEMBERS's figures were read (issue 46).
 */
import { benchArgs } from './args.js'
import { MemberView } from '../protocols/discovery/members.js'
import type { SignedStatement } from '../protocols/discovery/member-wire.js'
import type { RpcService } from '../protocols/rpc/index.js'

const { values } = benchArgs({ options: { members: { type: 'string', default: '1000,4096,16384' }, shape: { type: 'string', default: 'ordinary' } } })
const sizes = values.members.split(',').map(Number)
const largest = values.shape === 'largest'
if (!largest && values.shape !== 'ordinary') { console.error('--shape: ordinary or largest'); process.exit(2) }
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) { console.error('run with node --expose-gc'); process.exit(2) }

const PER_RELAY = 1_000
const CLOCK = 1_767_225_600_000
const SIG = 'S'.repeat(86) + '=='
const peerId = (i: number, tag = 'W'): string => `12D3KooW${tag}${String(i).padStart(10, '0')}`.padEnd(52, 'x')

function statement (i: number): SignedStatement {
  const body = JSON.stringify({
    peerId: peerId(i),
    name: largest ? 'n'.repeat(64) : `agent-${String(i).padStart(5, '0')}`,
    roles: largest ? Array.from({ length: 32 }, (_, r) => `${r}`.padEnd(64, 'r')) : [],
    eligible: false,
    incarnation: CLOCK + i,
    suspects: largest ? Array.from({ length: 256 }, (_, k) => ({ peerId: peerId(i * 256 + k, 'S'), incarnation: CLOCK })) : [],
    seq: CLOCK + i,
    addrs: largest
      ? Array.from({ length: 8 }, (_, a) => `/dns4/${'h'.repeat(230)}${a}.example/tcp/4001`)
      : [`/ip4/10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/tcp/4001`]
  })
  return { body, sig: SIG }
}

function heapPerMember (n: number): { perMemberB: number, bodyB: number } {
  const rpc = { handle: () => () => {}, request: async () => ({ known: 0 }) } as unknown as RpcService
  const view = new MemberView({
    heartbeatIntervalMs: 1_000,
    probeIntervalMs: 60_000,
    probeTimeoutMs: 500,
    silenceMs: 3_000,
    syncIntervalMs: 60_000,
    suspicionMinMs: 2_000,
    suspicionMaxMs: 6_000,
    confirmationsForMin: 3,
    self: { peerId: peerId(999_999, 'A'), name: 'self', roles: [], eligible: true },
    rpc,
    keys: { sign: () => SIG, verify: () => true },
    neighbours: () => [],
    gossipFanout: 3,
    maxMembers: n + Math.ceil(n / PER_RELAY) + 1
  })
  // Its receive is private: driven by hand, as the view's own tests do.
  const shell = view as unknown as {
    receive: (from: string, s: SignedStatement[], full: boolean) => number
    table: { size: number }
    deadline: { clear: () => void }
  }
  const bodyB = statement(0).body.length
  gc?.(); gc?.()
  const before = process.memoryUsage().heapUsed
  // The statements are made after the first reading: what the view keeps of them is its cost.
  for (let r = 0; r * PER_RELAY < n; r++) {
    const relay = peerId(r, 'R')
    view.seen(relay, { name: `relay${r}`, roles: [] })
    shell.receive(relay, Array.from({ length: Math.min(PER_RELAY, n - r * PER_RELAY) }, (_, i) => statement(r * PER_RELAY + i)), true)
  }
  gc?.(); gc?.()
  const grown = process.memoryUsage().heapUsed - before
  if (shell.table.size < n) throw new Error(`only ${shell.table.size} of ${n} members held`)
  shell.deadline.clear()
  return { perMemberB: Math.round(grown / n), bodyB }
}

for (const n of sizes) {
  const { perMemberB, bodyB } = heapPerMember(n)
  console.log(JSON.stringify({ bench: 'member-memory', shape: values.shape, members: n, statementBodyB: bodyB, heapPerMemberB: perMemberB, heapMiB: Math.round(perMemberB * n / 1048576) }))
}
