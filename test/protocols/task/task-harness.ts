/**
 * A task service with no network (test/protocols/task/task-takeover.test.ts, test/protocols/coordination/voter-catch-up.test.ts): the
 * TaskService with an office, a member view and an rpc of the test's making, so the order of
 * events is the test's, not the scheduler's.
 */
import { TypedEventEmitter } from 'main-event'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { RpcService } from '../../../protocols/rpc/index.js'
import type { NegotiationService } from '../../../protocols/negotiation/index.js'
import type { Office, OfficeEvents } from '../../../protocols/coordination/office.js'
import type { MemberSourceEvents } from '../../../protocols/discovery/member-source.js'
import type { Member } from '../../../protocols/discovery/members.js'
import { TaskService, TaskSpec, signSubmission, type PrunedMark, type TaskRecord, type TaskStatus } from '../../../protocols/task/index.js'
import { ResourceService } from '../../../protocols/resource/index.js'
import type { Store } from '../../../protocols/core/store.js'
import { RecordSealer } from '../../../protocols/task/record-seal.js'
import type { Certificate } from '../../../protocols/coordination/election-types.js'

export const KEY = await generateKeyPair('Ed25519')
export const SUBMITTER = peerIdFromPrivateKey(KEY).toString()
/** The peer id of this node's key (KEY, which the harness's node signs with): `self` where its own signatures are checked. */
export const SELF = SUBMITTER
/** The coordinator of the terms before the test's (67): it signed the records the voters hold (protocols/task/record-seal.ts). */
export const FORMER_KEY = await generateKeyPair('Ed25519')
export const FORMER = peerIdFromPrivateKey(FORMER_KEY).toString()
const former = new RecordSealer(FORMER, '', FORMER_KEY)
const T0 = Date.now() - 60_000

export class TestOffice extends TypedEventEmitter<OfficeEvents> implements Office {
  inOffice = true
  term = 67
  leader: string | undefined
  voters = (): string[] => [this.self, 'v1', 'v2']
  admits = (): boolean => true
  fencing = (): 'ok' => 'ok'
  coordinator = async (): Promise<string> => this.self
  certificate?: () => Certificate | undefined
  constructor (readonly self = 'self') { super(); this.leader = self }
}

export class TestMembers extends TypedEventEmitter<MemberSourceEvents> {
  list: Member[] = []
  members = (): Member[] => this.list
}

/** A record of task `id` as a coordinator of `term` wrote it (FORMER, who signed it), submitted and signed by SUBMITTER. */
export function record (id: string, term: number, version: number, status: Partial<TaskStatus>): TaskRecord {
  const spec = TaskSpec.parse({ task_id: id, type: 'work' })
  return former.seal({
    spec,
    submitter: SUBMITTER,
    submission: signSubmission(spec, SUBMITTER, KEY, T0),
    submitted_at: T0,
    version,
    term,
    losses: 0,
    status: { task_id: id, status: 'submitted', progress: 0, metrics: {}, timestamp: new Date(T0).toISOString(), attempt: 0, ...status }
  })
}

export interface Voters {
  rpc: RpcService
  release: () => void
  replicated: TaskRecord[]
  replicatedTo: Array<{ peer: string, id: string }>
  toldPruned: Array<{ peer: string, id: string }>
}

/** The voter that answers the read, and the certificates it sends with its records. */
const V1 = { peer: 'v1', certs: [] as Certificate[] }

/**
 * The voters' side, by hand: `v1` answers the records read with `held` (and the marks of the
 * records it pruned with `pruned`) once `release()` is called (or `reader`, with its certificates), `v2` is unreachable for that read.
 * Replication succeeds to anyone not in `down` and is kept: the records in `replicated`, each with the peer it went to in `replicatedTo`.
 */
export function voters (held: TaskRecord[], down: ReadonlySet<string> = new Set(), pruned: PrunedMark[] = [], reader = V1): Voters {
  const replicated: TaskRecord[] = []
  const replicatedTo: Array<{ peer: string, id: string }> = []
  const toldPruned: Array<{ peer: string, id: string }> = []
  let release = (): void => {}
  const gate = new Promise<void>(resolve => { release = resolve })
  const rpc = {
    handle: () => () => {},
    request: async (peer: string, cmd: { name: string }, payload: { records?: TaskRecord[], pruned?: boolean | PrunedMark[] }) => {
      if (down.has(peer)) throw new Error(`${peer} is down in this test`)
      if (cmd.name === '$agentmesh/task/records' && peer === reader.peer) {
        await gate
        // With `pruned`, the marks of the records v1 pruned (`pruned`); the records come with the certificates of their terms.
        if (payload.pruned === true) return { records: [], pruned: structuredClone(pruned), more: false }
        return { records: structuredClone(held), more: false, ...(reader.certs.length > 0 ? { certs: structuredClone(reader.certs) } : {}) }
      }
      if (cmd.name === '$agentmesh/task/replicate') {
        const records = payload.records ?? []
        replicated.push(...structuredClone(records))
        replicatedTo.push(...records.map(r => ({ peer, id: r.spec.task_id })))
        if (Array.isArray(payload.pruned)) toldPruned.push(...payload.pruned.map(m => ({ peer, id: m.task_id })))
        return { stored: records.length }
      }
      if (cmd.name === '$agentmesh/task/held') return { tasks: [] }
      throw new Error(`${peer} is unreachable in this test`)
    }
  }
  return { rpc: rpc as unknown as RpcService, release: () => { release() }, replicated, replicatedTo, toldPruned }
}

export interface Built { office: TestOffice, members: TestMembers, resources: ResourceService, tasks: TaskService }

export interface BuildOptions {
  /** What each agent can hold, for the tasks placed on it (none: nothing is placed). */
  capacities?: Map<string, TaskSpec['requirements']>
  /** The agent a contract net awards each task to (none: no agent bids). */
  award?: (taskId: string) => string | undefined
  /**
   * This node's peer id ("self" unless given). A second takeover of this node checks its own
   * records' signatures, which only verify under the peer id of the key that made them (SELF).
   */
  self?: string
  /** What the member view holds from the start, before the takeover (none: nobody). */
  members?: Member[]
}

/** With `followed` false, this node followed nobody in the terms before its own: only certificates prove them. */
export function build (rpc: RpcService, store?: Store, followed = true, options: BuildOptions = {}): Built {
  const self = options.self ?? 'self'
  const office = new TestOffice(self)
  const members = new TestMembers()
  members.list = options.members ?? []
  const capacities = options.capacities ?? new Map()
  const resources = new ResourceService({ self, rpc, office, members, capacities: () => capacities, publish: () => {}, requestTimeoutMs: 2_000 })
  const award = options.award
  const negotiation = {
    onCallForProposals: () => () => {},
    contractNet: async (cfp: { task: { task_id: string } }) => {
      const peer = award?.(cfp.task.task_id)
      return peer !== undefined ? { winner: { peer } } : {}
    }
  } as unknown as NegotiationService
  const tasks = new TaskService({
    self,
    rpc,
    resources: { cpu_cores: 1, memory_gb: 1, storage_gb: 0 },
    office,
    members,
    publish: () => {},
    requestTimeoutMs: 2_000,
    resourceManager: resources,
    negotiation,
    privateKey: KEY,
    ...(store !== undefined ? { store } : {})
  })
  // This node followed FORMER in every term before its own: FORMER's records of those terms are proven (term-proofs.ts).
  if (followed) for (let t = 0; t < office.term; t++) tasks.proofs.follow(t, FORMER)
  return { office, members, resources, tasks }
}

export async function until (what: string, done: () => boolean): Promise<void> {
  for (const end = Date.now() + 10_000; !done();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/**
 * A coordinator built on `rpc` that took office, its takeover done once `release` lets the
 * voters' read answer: `body` runs with it, stopped after.
 */
export async function afterTakeover (rpc: RpcService, release: () => void, body: (b: Built) => Promise<void>, options: BuildOptions = {}): Promise<void> {
  const b = build(rpc, undefined, true, options)
  b.resources.start()
  b.tasks.start()
  // The service's timers are unref'd (they never hold a host's process open): a test awaiting one needs a timer of its own.
  const awake = setInterval(() => {}, 1_000)
  try {
    release()
    b.tasks.scheduler.officeCheck()
    await until('the takeover to end', () => !b.tasks.scheduler.snapshot(1).taking_over)
    await body(b)
  } finally {
    clearInterval(awake)
    b.tasks.stop()
    b.resources.stop()
  }
}
