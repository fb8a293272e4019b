/**
 * The mesh's pre-shared key (libp2p pnet, security.psk) through real nodes on 127.0.0.1: nodes
 * with the same key form a mesh; a node with another key, or none, completes no handshake with
 * them; a bad key file is CFG001 before anything listens; and 16 MiB sent flat out over one
 * protected connection arrive (js-libp2p#3552: pnet without it wedges after ~4 MB).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createAgentNode, type AgentNode } from '../../surfaces/index.js'
import { readPsk, writePsk } from '../../node/psk.js'
import { KeyStream, meshKey } from '../../node/mesh-key.js'
import { salsa20, xsalsa20 } from '@noble/ciphers/salsa.js'
import { DATA_AT, DATA_MAX, salsaSimd } from '../../node/crypto/salsa20-simd.js'
import { Uint8ArrayList } from 'uint8arraylist'
import { preSharedKey } from '@libp2p/pnet'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { ConnectionProtector, Libp2p } from '@libp2p/interface'
import { nodeOptions, stopAll, uniqueMesh, waitFor, withTempDir } from '../helpers.js'

const BULK = '/agentmesh-test/bulk/1.0.0'

test('pnet: the same mesh key connects, another key or none completes no handshake; a bad key file is CFG001', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const [k1, k2] = [join(dir, 'one.psk'), join(dir, 'two.psk')]
    await writePsk(k1)
    await writePsk(k2)
    assert.equal((await stat(k1)).mode & 0o777, 0o600)
    await assert.rejects(writePsk(k1), /EEXIST/, 'a mesh key is never overwritten')
    const mesh = uniqueMesh()
    // Open mode: the key alone is under test here (closed with a key: test/surfaces/cli/cli-quickstart.test.ts).
    const opts = (psk: string | undefined, extra: object = {}): object => nodeOptions(mesh, { security: { mode: 'open', ...(psk !== undefined ? { psk } : {}) }, ...extra })
    const nodes: AgentNode[] = []
    try {
      const a = await createAgentNode(opts(k1, { name: 'a' }))
      nodes.push(a)
      await a.start()
      const b = await createAgentNode(opts(k1, { name: 'b', bootstrap: [a.addresses()[0]] }))
      nodes.push(b)
      await b.start()
      await waitFor(() => a.peers().some(p => p.name === 'b') && b.peers().some(p => p.name === 'a'), 'a and b, with one key, to see each other')

      for (const [name, psk] of [['other-key', k2], ['no-key', undefined]] as const) {
        // A wrong key turns the Noise frames into noise: a side may then wait for a frame length
        // that never arrives, until the dial's timeout. A short one keeps three failures quick.
        const retry = { bootstrapInitialDelayMs: 100, bootstrapMaxDelayMs: 200, dialTimeoutMs: 1_500 }
        const x = await createAgentNode(opts(psk, { name, bootstrap: [a.addresses()[0]], connections: retry }))
        nodes.push(x)
        let failures = 0
        x.addEventListener('bootstrap:error', () => { failures++ })
        await x.start()
        // Each failed dial is one handshake refused; three, and nothing ever connected.
        await waitFor(() => failures >= 3, `${name}'s dials to a to fail`)
        assert.equal(x.libp2p.getConnections().length, 0, `${name} holds no connection`)
        assert.ok(!a.peers().some(p => p.name === name) && x.peers().length === 0, `${name} is no member, and sees none`)
        assert.equal(a.libp2p.getConnections(x.libp2p.peerId).length, 0)
      }

      const bad = join(dir, 'bad.psk')
      await writeFile(bad, 'not a key\n')
      for (const psk of [bad, join(dir, 'missing.psk')]) {
        await assert.rejects(createAgentNode(opts(psk)), (e: any) => e.code === 'CFG001' && e.message.includes(psk), psk)
      }
    } finally {
      await stopAll(nodes)
    }
  })
})

test('pnet: 16 MiB sent flat out over one protected connection all arrive (no stall at the first backpressure, js-libp2p#3552)', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const psk = join(dir, 'mesh.psk')
    await writePsk(psk)
    const mesh = uniqueMesh()
    const nodes: AgentNode[] = []
    try {
      const a = await createAgentNode(nodeOptions(mesh, { name: 'a', security: { mode: 'open', psk } }))
      nodes.push(a)
      await a.start()
      const b = await createAgentNode(nodeOptions(mesh, { name: 'b', security: { mode: 'open', psk }, bootstrap: [a.addresses()[0]] }))
      nodes.push(b)
      await b.start()
      await waitFor(() => b.peers().some(p => p.name === 'a'), 'b to join a')
      let received = 0
      await a.libp2p.handle(BULK, async (stream) => {
        for await (const chunk of stream) received += chunk.byteLength
        await stream.close()
      })
      const total = 16 * 1024 * 1024
      const chunk = new Uint8Array(64 * 1024).fill(7)
      const stream = await b.libp2p.dialProtocol(a.libp2p.peerId, BULK)
      let drains = 0
      for (let sent = 0; sent < total; sent += chunk.byteLength) {
        // Waiting for 'drain' whenever send says the buffer is full: the wait that never ended before the fix.
        if (!stream.send(chunk)) { drains++; await stream.onDrain({ signal: AbortSignal.timeout(15_000) }) }
      }
      await stream.close()
      await waitFor(() => received === total, `all ${total} bytes to arrive (${received} so far)`, 30_000)
      assert.ok(drains > 0, 'the sender met backpressure at least once: the case that stalled')
    } finally {
      await stopAll(nodes)
    }
  })
})

test('mesh key: the key stream is one XSalsa20 stream however the bytes are cut, in the SIMD core and the JS one, and each side of a connection has its own', { timeout: 3 * 60_000 }, () => {
  const key = new Uint8Array(32).fill(7)
  const nonce = new Uint8Array(24).fill(9)
  // Longer than the SIMD module's memory holds (DATA_MAX): a chunk of it takes several passes.
  const data = new Uint8Array(3 * DATA_MAX + 777).map((_, i) => i * 31)
  const whole = xsalsa20(key, nonce, data)
  assert.ok(salsaSimd() !== undefined, 'Node has WebAssembly SIMD: the mesh key runs on the SIMD core')
  for (const core of [salsaSimd() ?? null, null]) {
    const name = core === null ? 'JS core' : 'SIMD core'
    for (const cuts of [[1], [63, 1, 64, 65], [100, 3, 700, 4_000], [64, 64, 64], [DATA_MAX - 1, 2, DATA_MAX + 5]]) {
      const s = new KeyStream(key, nonce, core)
      const parts: Uint8Array[] = []
      let at = 0
      for (const n of [...cuts, data.length]) { if (at >= data.length) break; parts.push(s.update(data.subarray(at, at + n))); at += n }
      assert.deepEqual(Buffer.concat(parts), Buffer.from(whole), `${name}, cut as ${cuts.join(',')}`)
    }
    // What a connection sends: a list of chunks (a length prefix, a Noise message) taken as one.
    const list = new Uint8ArrayList(data.subarray(0, 2), data.subarray(2, 70_000), data.subarray(70_000, 70_001))
    const t = new KeyStream(key, nonce, core)
    assert.deepEqual(Buffer.concat([t.update(list), t.update(data.subarray(70_001))]), Buffer.from(whole), `${name}, a list of chunks`)
  }
  // Two streams taking turns on the one SIMD module (every connection of a process shares it).
  const other = new Uint8Array(24).fill(4)
  const [a, b] = [new KeyStream(key, nonce), new KeyStream(key, other)]
  const [pa, pb]: Uint8Array[][] = [[], []]
  for (let at = 0; at < 10_000; at += 1_000) { pa.push(a.update(data.subarray(at, at + 1_000))); pb.push(b.update(data.subarray(at, at + 1_000))) }
  assert.deepEqual(Buffer.concat(pa), Buffer.from(whole.subarray(0, 10_000)), 'the first stream, its turns interleaved with another\'s')
  assert.deepEqual(Buffer.concat(pb), Buffer.from(xsalsa20(key, other, data.subarray(0, 10_000))), 'the second stream')
  assert.notDeepEqual(new KeyStream(key, new Uint8Array(24)).update(data.subarray(0, 64)), whole.subarray(0, 64), 'another nonce, another stream')
})

test('mesh key: the SIMD core\'s block counter is 64 bits (block 2^32 follows block 2^32 - 1, not block 0)', { timeout: 3 * 60_000 }, () => {
  const core = salsaSimd()
  assert.ok(core !== undefined)
  const key = new Uint8Array(32).fill(1)
  const nonce = new Uint8Array(8).fill(2)
  const blocks = (lo: number, hi: number, groups: number): Buffer => {
    core.memory.set(key, 0)
    core.memory.set(nonce, 32)
    core.owner = blocks // no KeyStream's key is in the memory now
    core.memory.fill(0, DATA_AT, DATA_AT + 256 * groups)
    core.xor(DATA_AT, groups, lo, hi)
    return Buffer.from(core.memory.slice(DATA_AT, DATA_AT + 256 * groups))
  }
  // Blocks 2^32 - 2 .. 2^32 + 5 in one call cross the low word's wrap, inside a group and between groups.
  const across = blocks(0xfffffffe, 0, 2)
  assert.deepEqual(across.subarray(128, 512), blocks(0, 1, 2).subarray(0, 384), 'the blocks after the wrap are blocks 2^32..')
  assert.notDeepEqual(blocks(0, 1, 1), blocks(0, 0, 1), 'block 2^32 is not block 0')
  // And the low blocks are Salsa20's (noble's core, whose counter stops at 2^32).
  assert.deepEqual(blocks(5, 0, 1), Buffer.from(salsa20(key, nonce, new Uint8Array(256), undefined, 5)))
  // Past 2^32, against Salsa20's block function as its specification writes it (one block, plain JS):
  // the high counter word must be the state's ninth word, not any other.
  for (const [lo, hi] of [[5, 0], [0, 1], [0xffffffff, 0], [7, 3]]) {
    assert.deepEqual(blocks(lo, hi, 1).subarray(0, 64), salsaBlock(key, nonce, lo, hi), `block ${hi} * 2^32 + ${lo}`)
  }
})

/** Salsa20's block function for one block at counter hi * 2^32 + lo (the test's reference: no SIMD, no @noble). */
function salsaBlock (key: Uint8Array, nonce: Uint8Array, lo: number, hi: number): Buffer {
  const w = (b: Uint8Array, i: number): number => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)
  const k = Array.from({ length: 8 }, (_, i) => w(key, 4 * i))
  const input = [
    0x61707865, k[0], k[1], k[2], k[3], 0x3320646e, w(nonce, 0), w(nonce, 4), lo, hi, 0x79622d32, k[4], k[5], k[6], k[7], 0x6b206574
  ].map(v => v | 0)
  const x = [...input]
  const rotl = (v: number, n: number): number => (v << n) | (v >>> (32 - n))
  const qr = (a: number, b: number, c: number, d: number): void => {
    x[b] ^= rotl((x[a] + x[d]) | 0, 7); x[c] ^= rotl((x[b] + x[a]) | 0, 9)
    x[d] ^= rotl((x[c] + x[b]) | 0, 13); x[a] ^= rotl((x[d] + x[c]) | 0, 18)
  }
  for (let r = 0; r < 10; r++) {
    qr(0, 4, 8, 12); qr(5, 9, 13, 1); qr(10, 14, 2, 6); qr(15, 3, 7, 11)
    qr(0, 1, 2, 3); qr(5, 6, 7, 4); qr(10, 11, 8, 9); qr(15, 12, 13, 14)
  }
  const out = Buffer.alloc(64)
  for (let i = 0; i < 16; i++) out.writeInt32LE((x[i] + input[i]) | 0, 4 * i)
  return out
}

test('mesh key: ours and @libp2p/pnet speak the same protocol (plain libp2p nodes, both ways, 4 MiB each way)', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'mesh.psk')
    await writePsk(file)
    const psk = await readPsk(file)
    const node = async (protector: () => ConnectionProtector): Promise<Libp2p> => await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionProtector: protector
    })
    const ours = await node(meshKey(psk))
    const theirs = await node(preSharedKey({ psk }))
    const bulk = 4 * 1024 * 1024
    try {
      for (const n of [ours, theirs]) {
        await n.handle(BULK, async (stream) => {
          // Echo: every byte decrypted on the way in is encrypted again on the way out.
          for await (const chunk of stream) if (!stream.send(chunk.subarray())) await stream.onDrain()
          await stream.close()
        })
      }
      for (const [from, to] of [[ours, theirs], [theirs, ours]]) {
        const stream = await from.dialProtocol(to.getMultiaddrs()[0], BULK)
        const sent = new Uint8Array(bulk).map((_, i) => (i * 7) & 0xff)
        const received: Uint8Array[] = []
        const reading = (async () => { for await (const c of stream) received.push(c.subarray()) })()
        for (let i = 0; i < bulk; i += 64 * 1024) if (!stream.send(sent.subarray(i, i + 64 * 1024))) await stream.onDrain()
        await stream.close()
        await reading
        assert.ok(Buffer.concat(received).equals(sent), `${from === ours ? 'ours to theirs' : 'theirs to ours'}: the same bytes back`)
      }
    } finally {
      await Promise.all([ours.stop(), theirs.stop()])
    }
  })
})
