/**
 * node dist/bench/keyring.js [--runs 5] [--dials 200] [--trials 20000]: what the keyring's trial
 * decryption (node/mesh-key.ts `keyOfDialer`) costs an inbound handshake, with 1 key vs 3.
 *  - trial: the CPU of finding the dialer's key among the ring's, the dialer's key last (the
 *    worst case: every other key tried first), in µs per handshake.
 *  - dial: plain libp2p nodes on 127.0.0.1 (TCP, the mesh key, Noise, yamux): one listener with a
 *    ring of 1 key, one with a ring of 3 keys where the dialer's is the last; dial, wait for the
 *    connection, close it; p50 and p99 in ms. The two listeners take turns in each run (A, B, A,
 *    B...), so the load of a shared machine falls on both alike.
 */
import '../node/polyfills.js'
import { benchArgs } from './args.js'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import { Keyring } from '../node/keyring.js'
import { DIALER_HEADER, keyOfDialer, meshKey } from '../node/mesh-key.js'

const { values } = benchArgs({ options: { runs: { type: 'string', default: '5' }, dials: { type: 'string', default: '200' }, trials: { type: 'string', default: '20000' } } })
const runs = Number(values.runs)
const DIALS = Number(values.dials)
const TRIALS = Number(values.trials)

const key = (n: number): Uint8Array => new Uint8Array(32).fill(n)
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]

function trialMicros (ring: Keyring): number {
  const nonce = new Uint8Array(24).fill(3)
  const first = xsalsa20(ring.all().at(-1)!.key, nonce, DIALER_HEADER)
  const t0 = performance.now()
  for (let i = 0; i < TRIALS; i++) if (keyOfDialer(ring.all(), nonce, first) === undefined) throw new Error('no key found')
  return (performance.now() - t0) * 1000 / TRIALS
}

async function node (ring: Keyring, listen: boolean): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: meshKey(ring),
    connectionManager: { inboundConnectionThreshold: 10_000 }
  })
}

const one = new Keyring([key(1)])
const three = new Keyring([key(2), key(3), key(1)])
const dialer = await node(new Keyring([key(1)]), false)
const listeners = { '1 key': await node(one, true), '3 keys': await node(three, true) }
try {
  for (let run = 1; run <= runs; run++) {
    const trial = { '1 key': trialMicros(one), '3 keys': trialMicros(three) }
    const times: Record<string, number[]> = { '1 key': [], '3 keys': [] }
    for (let i = 0; i < DIALS; i++) {
      for (const [name, l] of Object.entries(listeners)) {
        const t0 = performance.now()
        const conn = await dialer.dial(l.getMultiaddrs()[0])
        times[name].push(performance.now() - t0)
        await conn.close()
      }
    }
    for (const name of Object.keys(listeners)) {
      console.log(`run ${run} ${name.padEnd(6)}  trial ${trial[name as keyof typeof trial].toFixed(2)} µs/handshake   dial p50 ${pct(times[name], 0.5).toFixed(2)} ms  p99 ${pct(times[name], 0.99).toFixed(2)} ms  (${DIALS} dials)`)
    }
  }
} finally {
  await Promise.all([dialer.stop(), ...Object.values(listeners).map(async l => { await l.stop() })])
}
