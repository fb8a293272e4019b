/**
 * npm run bench:security [-- --json] [--quick] [--only closed,sealed] [--rounds 3] [--profile DIR] [--receivers 2]
 *
 * What security costs (issue 13): request-response p50/p99 (sequential) and broadcast msgs/s
 * (one publisher flat out, 1 KiB payloads, the slowest receiver's rate) between real nodes, each
 * its own process on 127.0.0.1, in full mesh, for each mode beside the open one:
 *
 * - open: any peer of the mesh name is admitted.
 * - closed: every node holds a credential of one owner; admission gates rpc and gossip.
 * - closed + signed: as closed, and every request and broadcast payload is an envelope signed by
 *   its sender (signEnvelope) and verified by its receiver: what signing every message would cost,
 *   which agentmesh does only for envelopes that outlive their stream (docs/security.md).
 * - closed + pnet (`security.psk`, node/mesh-key.ts), and closed with the
 *   broadcast sealed for its two receivers (`encryptFor`; requests are not sealed).
 *
 * Then the targets (issue 13): at most +10% on request p50, at most -20% on broadcast throughput.
 * Also the cost of one signature and one verification per envelope, in this process.
 * `--only`: these modes (open, closed, padded, before-intake, signed, pnet, sealed; the first listed is the base of the
 * deltas); `--rounds N`: the modes N times over, interleaved, medians reported (one mode's
 * broadcast moves by 20-40% run to run on a shared 2-core machine); `--profile DIR`: each worker
 * writes a V8 CPU profile of the broadcast to DIR/<mode>/publisher or receivers (bench/profile-summary.ts reads a folder).
 * `--receivers N`: how many receive the broadcast (2 by default; 1 leaves a core to each process).
 * `--pad N`: bytes of padding in each broadcast payload (1000 by default); `--pad 1012` makes a
 * closed batch of fifty spill past one Noise message (docs/benchmarks.md, batches cut where a Noise message ends).
 * The same file is the worker: `security.js --worker` (forked by the driver over IPC).
 */
import '../node/polyfills.js'
import { ForkedWorker } from './forked-worker.js'
import { writePsk } from '../node/psk.js'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { tmpdir, cpus } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.js'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { createAgentNode, type AgentNode } from '../surfaces/index.js'
import { issueCredential, newOwnerKey } from '../protocols/admission/credential.js'
import { encodeEnvelope, makeEnvelope, signEnvelope, signedText, verifyEnvelope, type Envelope } from '../protocols/envelope/index.js'

const SELF = fileURLToPath(import.meta.url)
const now = (): number => performance.timeOrigin + performance.now()
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const pct = (xs: number[], p: number): number => { const s = xs.slice().sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] }
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d
const PAD = 'x'.repeat(1000)
const fail = (message: string): never => { throw new Error(message) }

// --- the worker -----------------------------------------------------------------------------

interface Cmd { id: number, cmd: string, [k: string]: any }

async function worker (): Promise<void> {
  let node: AgentNode | undefined
  let key: PrivateKey
  let signed = false
  let count = 0
  let last = 0
  let cpu0 = process.cpuUsage()
  // CPU from the start of the broadcast to its last message here (read every 64 messages, and when
  // the publisher has flushed): not the seconds the driver then waits, whose background work
  // (heartbeats, gossip) would count more per message in a mode that sends fewer.
  let cpuDone = 0
  const cpuNow = (): number => { const c = process.cpuUsage(cpu0); return c.user + c.system }
  let session: Session | undefined
  const envelope = (payload: unknown, topic?: string): Envelope => signEnvelope(makeEnvelope({
    source: node!.peerId, destination: topic !== undefined ? { topic } : { peer: node!.peerId }, type: 'EVENT', subject: 'bench', payload
  }), key)
  const open = (p: any): any => signed ? verifyEnvelope(p as Envelope).payload : p
  const handle = async (m: Cmd): Promise<unknown> => {
    switch (m.cmd) {
      case 'init': {
        key = privateKeyFromProtobuf(Buffer.from(m.key, 'base64'))
        signed = m.signed
        const security = m.credential !== undefined ? { mode: 'closed' as const, credential: m.credential, ...(m.psk !== undefined ? { psk: m.psk } : {}) } : { mode: 'open' as const }
        node = await createAgentNode({
          mesh: m.mesh,
          name: `s${m.index as number}`,
          privateKey: key,
          mdns: false,
          logLevel: 'warn',
          listen: ['/ip4/127.0.0.1/tcp/0'],
          connections: { targetPeers: 0, inboundConnectionThreshold: 1000 },
          rpc: { requestsPerSec: 0 },
          // The flood limit off (as the rpc one): one publisher flat out is over 400 gossip messages a
          // second, and with it on 16-55% of the broadcast was refused, in every mode alike.
          pubsub: { publishPerSec: 0 },
          security
        } as any)
        node.handle('echo', (x: unknown) => { open(x); return 1 })
        // Mode `before-intake`: gossipsub reads its streams itself (protocols/pubsub/gossip-intake.ts replaced that on the instance).
        if (m.intake === false) delete (node.libp2p.services.pubsub as unknown as Record<string, unknown>).pipePeerReadStream
        await node.start()
        return { peerId: node.peerId, addr: node.addresses()[0] }
      }
      case 'connect':
        for (const a of m.addrs as string[]) { await node!.dial(a); await sleep(20) }
        return {}
      case 'subscribe': {
        const sub = node!.subscribe(m.topic)
        void (async () => {
          for await (const msg of sub) {
            if (msg.from === node!.peerId) continue
            open(msg.payload)
            count++; last = now()
            if ((count & 63) === 0) cpuDone = cpuNow()
          }
        })()
        return {}
      }
      case 'waitSubscribers': {
        const end = Date.now() + 20_000
        while (node!.topicPeers(m.topic).subscribers.length < m.n && Date.now() < end) await sleep(50)
        return {}
      }
      case 'reset': count = 0; last = 0; cpuDone = 0; cpu0 = process.cpuUsage(); return {}
      case 'publish': {
        const start = now()
        let seq = 0
        while (now() - start < m.durationMs) {
          const p = { seq, t: now(), pad: m.pad as string }
          await node!.publish(m.topic, signed ? envelope(p, m.topic) : p, m.encryptFor !== undefined ? { encryptFor: m.encryptFor } : undefined)
          if (++seq % 50 === 0) await new Promise(resolve => setImmediate(resolve))
        }
        await node!.flush()
        cpuDone = cpuNow()
        return { sent: seq, startedAt: start }
      }
      case 'report': {
        // No percentile of the broadcast latencies here: the driver polls this every second while
        // receivers may still be reading, and sorting ~100k figures each time took a receiver's
        // CPU from what it measures (55% of a closed receiver's busy CPU in one profile).
        return { count, last, cpuUs: cpuDone > 0 ? cpuDone : cpuNow() }
      }
      case 'rpcSeq': {
        // Admission (closed) settles after the connection: the first answered request starts the clock.
        const end = Date.now() + 20_000
        const body = (i: number): unknown => signed ? envelope({ i, pad: 'x'.repeat(64) }) : { i, pad: 'x'.repeat(64) }
        for (;;) { try { await node!.request(m.target, 'echo', body(-1)); break } catch (err) { if (Date.now() > end) throw err; await sleep(100) } }
        const lat: number[] = []
        for (let i = 0; i < m.count; i++) {
          const t0 = performance.now()
          // Signed inside the timed span: the sender's signature is part of what a signed request costs.
          await node!.request(m.target, 'echo', body(i))
          lat.push(performance.now() - t0)
        }
        return { latencies: lat }
      }
      case 'profileStart':
        session = new Session()
        session.connect()
        await session.post('Profiler.enable')
        await session.post('Profiler.start')
        return {}
      case 'profileStop': {
        const { profile } = await session!.post('Profiler.stop')
        await writeFile(m.file, JSON.stringify(profile))
        session!.disconnect()
        return {}
      }
      case 'stop': await node?.stop(); return {}
    }
    throw new Error(`unknown command ${m.cmd}`)
  }
  process.on('message', (m: Cmd) => {
    handle(m).then((result) => { process.send!({ id: m.id, result }) }, (err) => { process.send!({ id: m.id, error: String((err as Error)?.stack ?? err) }) })
    if (m.cmd === 'stop') setTimeout(() => process.exit(0), 200)
  })
}

// --- the driver -----------------------------------------------------------------------------

interface Scenario { key: string, name: string, pad?: number, closed: boolean, signed: boolean, psk: boolean, sealed?: boolean, intake?: boolean }
/** cpuPub, cpuRecv: CPU µs per broadcast message of the publisher and of the receivers together (from reset to the report after the last one arrived). */
interface Figures { p50: number, p99: number, msgsPerSec: number, loss: number, cpuPub: number, cpuRecv: number }

let pskFiles = 0

async function run (s: Scenario, dir: string, n: number, seconds: number, requests: number, profile?: string): Promise<Figures> {
  const mesh = `sec${process.pid}${s.name.replace(/\W/g, '')}`
  const owner = await newOwnerKey()
  let psk: string | undefined
  if (s.psk) {
    // One file per run: with --rounds the same mode runs again in the same folder (writePsk never overwrites).
    psk = join(dir, `${mesh}-${++pskFiles}.psk`)
    await writePsk(psk)
  }
  const workers = Array.from({ length: n }, () => new ForkedWorker(SELF, ['--worker']))
  try {
    const ids = await Promise.all(workers.map(async (w, i) => {
      const key = await generateKeyPair('Ed25519')
      let credential: string | undefined
      if (s.closed) {
        const t = Date.now()
        const c = await issueCredential(owner, { mesh, subject: peerIdFromPrivateKey(key).toString(), roles: ['agent', 'coordinator'], capabilities: [], issuedAt: t, expiresAt: t + 86_400_000 })
        credential = join(dir, `${mesh}-${i}.json`)
        await writeFile(credential, JSON.stringify(c))
      }
      return await w.call('init', { index: i, mesh, key: Buffer.from(privateKeyToProtobuf(key)).toString('base64'), credential, psk, signed: s.signed, intake: s.intake !== false })
    }))
    for (let i = 0; i < n; i++) await workers[i].call('connect', { addrs: ids.slice(i + 1).map(x => x.addr) })
    const seq = (await workers[1].call('rpcSeq', { target: ids[0].peerId, count: requests })).latencies as number[]
    const topic = 'flat'
    for (const w of workers) await w.call('subscribe', { topic })
    for (const w of workers) await w.call('waitSubscribers', { topic, n: n - 1 })
    await sleep(1500)
    for (const w of workers) await w.call('reset')
    // The profile covers the broadcast only (not the start, the requests or the stop).
    if (profile !== undefined) for (const w of workers) await w.call('profileStart')
    const { sent, startedAt } = await workers[0].call('publish', { topic, durationMs: seconds * 1000, pad: 'x'.repeat(s.pad ?? 1000), ...(s.sealed === true ? { encryptFor: ids.slice(1).map(x => x.peerId) } : {}) })
    let reports: any[] = []
    for (const end = Date.now() + 20_000; Date.now() < end;) {
      await sleep(1000)
      reports = await Promise.all(workers.slice(1).map(async w => await w.call('report')))
      if (reports.every(r => r.count >= sent)) break
    }
    const rates = reports.map(r => r.count === 0 ? 0 : r.count / ((r.last - startedAt) / 1000))
    const lost = reports.reduce((a, r) => a + Math.max(0, sent - r.count), 0)
    const loss = round(100 * lost / (sent * (n - 1)), 2)
    const pub = await workers[0].call('report')
    if (profile !== undefined) {
      const dir = join(profile, s.key)
      await mkdir(join(dir, 'publisher'), { recursive: true })
      await mkdir(join(dir, 'receivers'), { recursive: true })
      for (const [i, w] of workers.entries()) await w.call('profileStop', { file: join(dir, i === 0 ? 'publisher' : 'receivers', `${Date.now()}-${i}.cpuprofile`) })
    }
    const cpuPub = round(pub.cpuUs / sent)
    const cpuRecv = round(reports.reduce((a, r) => a + r.cpuUs, 0) / sent)
    return { p50: round(pct(seq, 0.5), 3), p99: round(pct(seq, 0.99), 3), msgsPerSec: round(Math.min(...rates), 0), loss, cpuPub, cpuRecv }
  } finally {
    await Promise.all(workers.map(async w => { await w.call('stop', {}, 10_000).catch(() => {}); await w.kill() }))
  }
}

/** Sign and verify cost per envelope (a 1 KiB broadcast payload), in this process. */
async function perEnvelope (times: number): Promise<Record<string, number>> {
  const key = await generateKeyPair('Ed25519')
  const env = makeEnvelope({ source: peerIdFromPrivateKey(key).toString(), destination: { topic: 't' }, type: 'EVENT', subject: 's', payload: { seq: 1, t: 1, pad: PAD } })
  const time = (f: () => void): number => {
    for (let i = 0; i < 200; i++) f()
    const t0 = performance.now()
    for (let i = 0; i < times; i++) f()
    return round(1000 * (performance.now() - t0) / times, 1)
  }
  const signed = signEnvelope(env, key)
  return {
    canonicalUs: time(() => { signedText(env) }),
    signUs: time(() => { signEnvelope(env, key) }),
    verifyUs: time(() => { verifyEnvelope(signed) }),
    encodeUs: time(() => { encodeEnvelope(env) }),
    bytesAdded: encodeEnvelope(signed).byteLength - encodeEnvelope(env).byteLength
  }
}

async function driver (): Promise<void> {
  const { values: args } = benchArgs({
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      worker: { type: 'boolean', default: false },
      only: { type: 'string' },
      rounds: { type: 'string', default: '1' },
      profile: { type: 'string' },
      receivers: { type: 'string', default: '2' },
      pad: { type: 'string', default: '1000' }
    }
  })
  const log = (s: string): void => { if (!args.json) process.stderr.write(s + '\n') }
  const seconds = args.quick ? 2 : 4
  const requests = args.quick ? 500 : 2000
  // Publisher and receivers, a process each: with one receiver no process waits for a core on this 2-core machine.
  const n = 1 + Math.max(1, Number(args.receivers))
  const all: Scenario[] = [
    { key: 'open', name: 'open', closed: false, signed: false, psk: false },
    { key: 'closed', name: 'closed (credentials)', closed: true, signed: false, psk: false },
    // Closed, with gossipsub reading its streams itself: what the gossip intake (turns, refusals unread) costs a broadcast.
    { key: 'before-intake', name: 'closed, gossipsub reads streams', closed: true, signed: false, psk: false, intake: false },
    // Closed, the payload padded to a sealed one's length: what the bytes cost, apart from the cryptography.
    { key: 'padded', name: 'closed, payload as long as sealed', pad: 1470, closed: true, signed: false, psk: false },
    { key: 'signed', name: 'closed + signed envelopes', closed: true, signed: true, psk: false },
    { key: 'pnet', name: 'closed + pnet', closed: true, signed: false, psk: true },
    // Broadcast sealed for the two receivers; requests are not sealed (Noise encrypts them already).
    { key: 'sealed', name: 'closed + sealed (encryptFor)', closed: true, signed: false, psk: false, sealed: true }
  ]
  const words = args.only?.split(',').map(w => w.trim()).filter(w => w !== '')
  const chosen = words === undefined ? all.filter(s => s.pad === undefined && s.intake === undefined) : words.map(w => all.find(s => s.key === w) ?? fail(`--only: no mode "${w}" (${all.map(s => s.key).join(', ')})`))
  // `--pad`: the broadcast payload's padding where the mode sets none (1000: a 1 KiB payload).
  const scenarios = chosen.map(s => ({ ...s, pad: s.pad ?? Number(args.pad) }))
  const rounds = Math.max(1, Number(args.rounds))
  const out: Record<string, unknown> = {}
  if (scenarios.some(s => s.signed)) {
    out.perEnvelope = await perEnvelope(args.quick ? 2000 : 10_000)
    log(`per envelope (1 KiB payload): ${JSON.stringify(out.perEnvelope)}`)
  }
  const dir = await mkdtemp(join(tmpdir(), 'agentmesh-security-'))
  const runs = new Map<string, Figures[]>(scenarios.map(s => [s.name, []]))
  try {
    for (let r = 0; r < rounds; r++) {
      // Each round starts with another mode, so none is always measured first.
      for (const s of [...scenarios.slice(r % scenarios.length), ...scenarios.slice(0, r % scenarios.length)]) {
        const figures = await run(s, dir, n, seconds, requests, args.profile)
        runs.get(s.name)!.push(figures)
        log(`${rounds > 1 ? `round ${r + 1} ` : ''}${s.name.padEnd(30)} request p50 ${figures.p50} ms p99 ${figures.p99} ms   broadcast ${figures.msgsPerSec} msgs/s (loss ${figures.loss}%), CPU µs/msg publisher ${figures.cpuPub} receivers ${figures.cpuRecv}`)
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]
  const rows = scenarios.map(s => {
    const fs = runs.get(s.name)!
    const m = (k: keyof Figures): number => median(fs.map(f => f[k]))
    return { name: s.name, figures: { p50: m('p50'), p99: m('p99'), msgsPerSec: m('msgsPerSec'), loss: m('loss'), cpuPub: m('cpuPub'), cpuRecv: m('cpuRecv') }, rounds: fs }
  })
  if (rounds > 1) log(`\nmedians of ${rounds} rounds (lower median of an even count):`)
  const base = rows[0].figures as Figures
  const delta = (x: number, y: number): string => `${x >= y ? '+' : ''}${round(100 * (x - y) / y)}%`
  log('\n| mode | request p50 | p99 | Δ p50 (≤ +10%) | broadcast msgs/s | Δ (≥ -20%) | CPU µs/msg (publisher + receivers) |\n|---|---|---|---|---|---|---|')
  for (const r of rows) {
    const f = r.figures
    const dp = (f.p50 - base.p50) / base.p50
    const db = (f.msgsPerSec - base.msgsPerSec) / base.msgsPerSec
    log(`| ${r.name} | ${f.p50} ms | ${f.p99} ms | ${delta(f.p50, base.p50)} ${dp <= 0.1 ? 'ok' : 'OVER'} | ${f.msgsPerSec} | ${delta(f.msgsPerSec, base.msgsPerSec)} ${db >= -0.2 ? 'ok' : 'OVER'} | ${f.cpuPub} + ${f.cpuRecv} |`)
  }
  out.scenarios = rows
  out.machine = { node: process.version, cores: cpus().length, seconds, requests, nodes: n, rounds }
  if (args.json) process.stdout.write(JSON.stringify(out) + '\n')
  process.exit(0)
}

if (process.argv.includes('--worker')) await worker()
else await driver()
