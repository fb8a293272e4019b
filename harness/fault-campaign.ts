/**
 * The seeded fault campaign (issue 14, "Tests and proof"): five agents, each in its own network
 * namespace (harness/netns.ts) with its own data directory and identity, so a restart after kill -9
 * is the same agent with its state. From a seed (printed first; AGENTMESH_TEST_FAULT_SEED
 * repeats one) it applies faults in rounds: kill -9 then restart, a random partition then heal,
 * one host cut off then heal, SIGSTOP then SIGCONT; a fault is sometimes left on while the next
 * one starts. Meanwhile a workload runs: tasks submitted from every agent (the acknowledged ones
 * recorded) and at-least-once notes between agents (each recorded with its sender's outcome).
 * After each round everything is undone, the campaign waits until the mesh is whole (every
 * agent connected to the four others, all following one coordinator in one term) and checks:
 *   1. one coordinator per term: every (term, leader) any agent printed or answered, never two
 *      leaders for a term;
 *   2. no acknowledged task lost (TSK001 from the coordinator), and no recorded end changed: a
 *      task seen ended keeps its status, attempt and agent in every later round, under every
 *      later coordinator; a completed task's result comes from a run of that attempt by that
 *      agent (its end line). Ends of attempts that were not recorded (a cut-off agent finishing
 *      a task placed again elsewhere) are at-least-once execution: counted, not a failure.
 *      The one TSK001 that is right: a task seen ended more than FINISHED_RETENTION_MS ago (its
 *      status's time), whose record the replicas pruned; it is counted, and asked again every
 *      tenth round and at the end: it must stay unknown (a pruned record must not come back);
 *   3. every at-least-once note whose sender told an outcome was delivered (the receiver's
 *      handler printed its id) or is in its sender's dead letters.
 * At the end every acknowledged task must have ended and every outcome be in. A broken
 * invariant is a finding, kept with the seed; so is a mesh not whole again 60 s after a heal
 * (connections missing, or no single coordinator in office); one with no coordinator for
 * STALL_MS more throws (with the seed). Used by test/mesh/fault-campaign.test.ts and bench/faults.ts.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NetnsLab, type AgentEvent, type LabAgent } from './netns.js'
import { agentTimings, sleep, waitFor } from './process.js'
import { seededRandom } from './random.js'
import { FINISHED_RETENTION_MS } from '../protocols/task/table.js'

const AGENT = fileURLToPath(new URL('./fixtures/campaign-agent.js', import.meta.url))
const HOSTS = 5
/** How late an agent's line may come after another agent's line it follows (two pipes, one busy reader). */
const LINE_LAG_MS = 10_000
/** After a finding of no coordinator 60 s after a heal, how much longer the campaign waits for one before it gives up. */
const STALL_MS = 180_000
/** How long a restarted agent may take to start (a node start with its store, at a load average of 20 on two cores, took over 20 s). */
const START_MS = 60_000

export const KINDS = ['kill', 'partition', 'cut', 'pause'] as const
export type FaultKind = typeof KINDS[number]

export interface CampaignOptions {
  /** Faults to apply in all (each kind counts one when applied; its undo is part of it). */
  faults: number
  /** Default: AGENTMESH_TEST_FAULT_SEED, else a random one. */
  seed?: number
  /** Faults per round, drawn between these (inclusive). */
  perRound?: [number, number]
  /** Where progress lines go (default: console.log). */
  log?: (line: string) => void
  /**
   * Keep the lab's directory (data directories, identities, and a logs/ folder with every life's
   * lines and stderr) after the campaign: always with true, never with false; by default only
   * when there was a finding, so a finding can be read into afterwards.
   */
  keep?: boolean
  /**
   * AGENTMESH_* settings given to every agent besides the campaign's own: the same faults on
   * another configuration (issue 46: `AGENTMESH_CONNECTIONS_GRAPH=views`, the bounded graph,
   * with an active view smaller than the mesh so that it is not a full mesh at five agents).
   */
  agentEnv?: Record<string, string>
}

export interface CampaignReport {
  seed: number
  faults: Record<FaultKind, number>
  rounds: number
  /** Checks made, by invariant. */
  checks: { terms: number, leaders: number, taskStatuses: number, recordedEnds: number, endsOnDisk: number, notes: number }
  /** `pruned`: ended tasks whose records were pruned (FINISHED_RETENTION_MS after the end), asked again every tenth round: they must stay unknown. */
  tasks: { submitted: number, acknowledged: number, completed: number, failed: number, extraEnds: number, pruned: number }
  notes: { sent: number, delivered: number, deadLettered: number, lostWithSender: number }
  /** Broken invariants, each with what broke; empty when the campaign passed. */
  findings: string[]
  ms: number
}

/** The seed to run: the given one, else AGENTMESH_TEST_FAULT_SEED, else a fresh one. */
export function campaignSeed (given?: number): number {
  if (given !== undefined) return given >>> 0
  const env = process.env.AGENTMESH_TEST_FAULT_SEED
  if (env !== undefined && env !== '') {
    const n = Number(env)
    if (!Number.isInteger(n)) throw new Error(`AGENTMESH_TEST_FAULT_SEED must be an integer, not "${env}"`)
    return n >>> 0
  }
  return Math.floor(Math.random() * 2 ** 32) >>> 0
}

interface Ended { status: string, attempt: number, agent?: string, by?: string, timestamp?: string, seen?: string }
interface Note { id: string, fromHost: number, toHost: number, asked: LabAgent }

/** Every line every life of every host printed, for the checks. */
const allEvents = (lab: NetnsLab): Array<{ life: LabAgent, e: AgentEvent }> => lab.lives.flatMap(life => life.events.map(e => ({ life, e })))

export async function runCampaign (options: CampaignOptions): Promise<CampaignReport> {
  const seed = campaignSeed(options.seed)
  const log = options.log ?? ((l: string) => { console.log(l) })
  const [minPer, maxPer] = options.perRound ?? [4, 8]
  const extra = Object.entries(options.agentEnv ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')
  log(`fault campaign: seed ${seed} (repeat with AGENTMESH_TEST_FAULT_SEED=${seed}), ${options.faults} faults on ${HOSTS} hosts${extra !== '' ? `, every agent with ${extra}` : ''}`)
  // Two generators: the faults' sequence repeats from the seed whatever the workload's timing drew.
  const faultRand = seededRandom(seed)
  const workRand = seededRandom(seed ^ 0x9E3779B9)
  const rand = faultRand
  const pick = <T>(xs: readonly T[], r = rand): T => xs[Math.floor(r() * xs.length)]
  const between = (a: number, b: number, r = rand): number => a + Math.floor(r() * (b - a + 1))
  const t0 = Date.now()
  const report: CampaignReport = {
    seed,
    faults: { kill: 0, partition: 0, cut: 0, pause: 0 },
    rounds: 0,
    checks: { terms: 0, leaders: 0, taskStatuses: 0, recordedEnds: 0, endsOnDisk: 0, notes: 0 },
    tasks: { submitted: 0, acknowledged: 0, completed: 0, failed: 0, extraEnds: 0, pruned: 0 },
    notes: { sent: 0, delivered: 0, deadLettered: 0, lostWithSender: 0 },
    findings: [],
    ms: 0
  }
  const finding = (what: string): void => {
    if (report.findings.includes(what)) return
    report.findings.push(what)
    log(`FINDING (seed ${seed}, round ${report.rounds}): ${what}`)
  }

  const dir = await mkdtemp(join(tmpdir(), 'agentmesh-faults-'))
  const envFor = (i: number): Record<string, string> => ({
    ...agentTimings(HOSTS),
    AGENTMESH_DATA_DIR: join(dir, `h${i}`, 'data'),
    AGENTMESH_IDENTITY: join(dir, `h${i}`, 'identity.json'),
    // Retries that end within a round, so outcomes come in while the campaign looks.
    AGENTMESH_RETRY_MAX_RETRIES: '3',
    AGENTMESH_RETRY_INITIAL_DELAY_MS: '200',
    AGENTMESH_RETRY_MAX_DELAY_MS: '1000',
    AGENTMESH_BREAKER_RESET_MS: '1000',
    ...options.agentEnv
  })
  const lab = NetnsLab.create(HOSTS, { agent: AGENT })
  const peerIds: string[] = []
  const down = new Set<number>()
  const restarting = new Map<number, Promise<void>>()
  const paused = new Set<number>()
  const acknowledged = new Map<string, number>() // task id -> submitter host
  /** Ended tasks whose records were pruned after the retention: TSK001 is their right answer from then on. */
  const pruned = new Set<string>()
  const ended = new Map<string, Ended>()
  const notes: Note[] = []
  const flaggedNotes = new Set<string>()
  const flaggedTasks = new Set<string>()
  /** Ends answered by a coordinator, to look for on the voters' disks once they are a second old. */
  const toVerify = new Map<string, { at: number, attempt: number, status: string }>()
  const work = { stop: false }
  let inflight = 0
  let nextTask = 0

  /** Terms and leaders seen so far (events of every life, and answers to status). */
  const leaders = new Map<number, Set<string>>()
  const sawLeader = (term: number, leader: string | undefined): void => {
    if (leader === undefined) return
    const set = leaders.get(term) ?? new Set<string>()
    set.add(leader)
    leaders.set(term, set)
  }

  const status = async (a: LabAgent): Promise<{ coordinator: any, peers: string[] } | undefined> => {
    const r = await a.command({ cmd: 'status' }, 5_000).catch(() => undefined)
    return r?.ok === true ? r.result : undefined
  }

  /**
   * Every agent running, connected to the four others, all following one coordinator in one
   * term. Not within 60 s: connections still missing under one coordinator are a finding; no
   * single coordinator in office is one too (with the machine's load, the usual cause on a shared
   * host), and the campaign waits STALL_MS more for one before it gives up (it throws, with the seed).
   */
  const whole = async (what: string): Promise<void> => {
    let last: unknown[] = []
    let led = false
    let missing: string[] = []
    const look = async (): Promise<boolean> => {
      const ss = await Promise.all(lab.agents.map(async a => a !== undefined && a.running ? await status(a) : undefined))
      last = ss.map(s => s === undefined ? null : { term: s.coordinator.term, leader: String(s.coordinator.leader ?? '-').slice(-6), inOffice: s.coordinator.inOffice, peers: s.peers.length })
      for (const s of ss) if (s !== undefined) sawLeader(s.coordinator.term, s.coordinator.leader)
      if (ss.some(s => s === undefined)) return false
      const c = ss[0]?.coordinator
      const office = ss.filter(s => s?.coordinator.inOffice === true).length
      led = office === 1 && ss.every(s => s?.coordinator.leader === c.leader && s?.coordinator.term === c.term)
      missing = ss.flatMap((s, i) => peerIds.filter((p, j) => j !== i && s?.peers.includes(p) !== true).map(p => `${lab.hosts[i].name}-${name(p)}`))
      return led && missing.length === 0
    }
    const load = (): string => loadavg().map(l => l.toFixed(1)).join(' ')
    await waitFor(look, what, 60_000).catch(async () => {
      if (!led) {
        const why = await Promise.all(lab.agents.map(async a => a?.running === true ? String((await status(a))?.coordinator.reason ?? '') : 'down'))
        finding(`no single coordinator in office 60 s after round ${report.rounds} was healed (load average ${load()}); last seen: ${JSON.stringify(last)}; ` +
          `why, as each says: ${JSON.stringify(why)}${missing.length > 0 ? `; ${missing.length} connections missing: ${await apart(missing)}` : ''}`)
        await waitFor(async () => { await look(); return led }, `${what}: one coordinator`, STALL_MS).catch((err: Error) => {
          throw new Error(`seed ${seed}, round ${report.rounds}: ${err.message} (load average ${load()}); last seen: ${JSON.stringify(last)}`)
        })
      }
      // Led by one coordinator, but some agents not connected again: a finding, and the campaign goes on.
      if (!await look() && led) finding(`${missing.length} connections still missing 60 s after round ${report.rounds} was healed: ${missing.join(' ')}; ${await apart(missing)}`)
    })
  }

  /** What each side of the pairs that stay apart holds of the other: connections, card, member state, flooder cool-down. */
  const apart = async (pairs: string[]): Promise<string> => {
    const out: string[] = []
    for (const pair of pairs) {
      const [a, b] = pair.split('-').map(n => lab.hosts.findIndex(h => h.name === n))
      if (a < 0 || b < 0) continue
      const r = await lab.agents[a]?.command({ cmd: 'links' }, 5_000).catch(() => undefined)
      if (r?.ok !== true) { out.push(`${pair}: no answer`); continue }
      const other = peerIds[b]
      const l = r.result
      out.push(`${pair}: connections ${JSON.stringify(l.connections.filter((c: any) => c.peer === other).map((c: any) => `${String(c.direction)}/${String(c.status)}/${String(c.ageMs)}ms`))}, ` +
        `card ${String(l.peers.includes(other))}, member ${String(l.members.find((m: any) => m.peer === other)?.state ?? 'unknown')}, ` +
        `cooling ${String(l.cooling.rpc.includes(other) || l.cooling.gossip.includes(other))}`)
    }
    return out.join('; ')
  }

  const name = (peer: string | undefined): string => lab.hosts[peerIds.indexOf(peer ?? '')]?.name ?? String(peer)
  const running = (): number[] => lab.hosts.map(h => h.index).filter(i => !down.has(i) && !paused.has(i))

  /** The workload: a submit or a note about every 150 ms, from running agents, a few in flight at most. */
  const workload = async (): Promise<void> => {
    while (!work.stop) {
      await sleep(150)
      const up = running()
      if (inflight >= 8 || up.length === 0) continue
      const from = pick(up, workRand)
      const agent = lab.agent(from)
      inflight++
      if (workRand() < 0.5) {
        const tasks = Array.from({ length: between(1, 2, workRand) }, () => ({ task_id: `s${seed}-t${nextTask++}`, steps: between(1, 4, workRand), stepMs: 100 }))
        report.tasks.submitted += tasks.length
        void agent.command({ cmd: 'submit', tasks }, 20_000).then(r => {
          if (r.ok) for (const id of r.result.acknowledged as string[]) acknowledged.set(id, from)
        }, () => {}).finally(() => { inflight-- })
      } else {
        const to = pick(lab.hosts.map(h => h.index).filter(i => i !== from), workRand)
        const note: Note = { id: `s${seed}-n${notes.length}`, fromHost: from, toHost: to, asked: agent }
        notes.push(note)
        void agent.command({ cmd: 'send', target: peerIds[to], note: note.id, timeoutMs: 1_500 }, 5_000).catch(() => {}).finally(() => { inflight-- })
      }
    }
  }

  const restart = async (i: number): Promise<void> => {
    const old = lab.agent(i)
    await waitFor(() => !old.running, `${lab.hosts[i].name} to exit after SIGKILL`, 10_000)
    let a: LabAgent
    try {
      [a] = await lab.start(envFor, [i], START_MS)
    } catch (err) {
      // Slower than START_MS to start again (seed 1606683835's second 1,000-fault run: 20 s, at a
      // load average of 20 on the 2-core machine): a finding; the stuck process is killed and the
      // host started once more, with a longer bound, before the campaign gives up.
      finding(`${lab.hosts[i].name} had not started ${START_MS / 1000} s after its restart (load average ${loadavg().map(l => l.toFixed(1)).join(' ')}): ${(err as Error).message.slice(0, 1_500)}`)
      lab.kill(i)
      await waitFor(() => !lab.agent(i).running, `${lab.hosts[i].name} to exit after SIGKILL`, 10_000)
      ;[a] = await lab.start(envFor, [i], 3 * START_MS)
    }
    if (a.peerId !== peerIds[i]) finding(`${lab.hosts[i].name} came back as ${a.peerId}, not ${peerIds[i]}: its identity was not kept`)
    down.delete(i)
  }

  /** Apply one fault; returns its undo. */
  const done: string[] = []
  const apply = (kind: FaultKind): (() => Promise<void>) => {
    report.faults[kind]++
    // The coordinator is the most telling target: about half the time when it is known.
    const leader = lab.agents.findIndex(a => a?.events.findLast(e => e.event === 'coordinator')?.self === true)
    const target = (candidates: number[]): number => leader >= 0 && candidates.includes(leader) && rand() < 0.5 ? leader : pick(candidates)
    switch (kind) {
      case 'kill': {
        const i = target(lab.hosts.map(h => h.index).filter(x => !down.has(x)))
        down.add(i)
        paused.delete(i)
        lab.kill(i)
        done.push(`kill ${lab.hosts[i].name}${i === leader ? '*' : ''}`)
        // The restart runs while the next faults go on (a process start is the slowest part of
        // a fault); the round waits for every restart before it heals and checks.
        return async () => {
          if (!down.has(i) || restarting.has(i)) return
          const started = restart(i).finally(() => { restarting.delete(i) })
          // Awaited by the round once its faults are applied; until then a failure must not be
          // an unhandled rejection (it ended the process with the lab's agents and namespaces left behind).
          started.catch(() => {})
          restarting.set(i, started)
        }
      }
      case 'pause': {
        const i = target(running())
        paused.add(i)
        lab.pause(i)
        done.push(`pause ${lab.hosts[i].name}${i === leader ? '*' : ''}`)
        return async () => { if (paused.delete(i)) lab.resume(i) }
      }
      case 'cut': {
        const i = target(lab.hosts.map(h => h.index))
        lab.cut(i)
        done.push(`cut ${lab.hosts[i].name}${i === leader ? '*' : ''}`)
        return async () => { lab.heal() }
      }
      case 'partition': {
        const order = lab.hosts.map(h => h.index).sort(() => rand() - 0.5)
        const k = between(1, HOSTS - 1)
        lab.partition([order.slice(0, k), order.slice(k)])
        done.push(`partition ${[order.slice(0, k), order.slice(k)].map(side => side.map(i => lab.hosts[i].name + (i === leader ? '*' : '')).join(',')).join('|')}`)
        return async () => { lab.heal() }
      }
    }
  }

  const checkTerms = (): void => {
    for (const { e } of allEvents(lab)) if (e.event === 'coordinator') sawLeader(e.term, e.leader)
    report.checks.terms = leaders.size
    for (const [term, set] of leaders) {
      report.checks.leaders++
      if (set.size > 1) finding(`term ${term} had ${set.size} coordinators: ${[...set].map(p => lab.hosts[peerIds.indexOf(p)]?.name ?? p).join(', ')}`)
    }
  }

  const endLines = (): Array<{ life: LabAgent, e: AgentEvent }> => allEvents(lab).filter(x => x.e.event === 'task' && x.e.phase === 'end')

  /** Invariant 2; with `final`, every acknowledged task must also have ended. */
  const checkTasks = async (final: boolean): Promise<boolean> => {
    let open = 0
    for (let h = 0; h < HOSTS; h++) {
      // Pruned ones are asked again every tenth round and at the end: TSK001 must stay, a record
      // come back (a stale replica's copy merged by a coordinator taking office) would run again.
      const again = final || report.rounds % 10 === 0
      const ids = [...acknowledged].filter(([id, by]) => by === h && (again || !pruned.has(id))).map(([id]) => id)
      if (ids.length === 0) continue
      const r = await lab.agent(h).command({ cmd: 'query', ids }, 30_000).catch((err: Error) => ({ ok: false, error: err.message, result: undefined }))
      if (!r.ok) { open += ids.length; continue }
      let ends = endLines()
      for (const id of ids) {
        const s = r.result.statuses[id]
        report.checks.taskStatuses++
        if (pruned.has(id)) {
          if (s.error !== undefined || flaggedTasks.has(id)) continue
          flaggedTasks.add(id)
          finding(`task ${id} came back after its record was pruned (its end ${JSON.stringify({ ...ended.get(id), agent: name(ended.get(id)?.agent) })}): now ${JSON.stringify({ ...s, agent: name(s.agent) })}, ` +
            `round ${report.rounds}, from the coordinator ${name(r.result.leader)} of term ${String(r.result.term)}`)
          continue
        }
        if (s.error === 'TSK001') {
          // A finished record is pruned FINISHED_RETENTION_MS after its end (table.ts, on every
          // replica): unknown then is right, for a task this campaign saw end that long ago. An
          // end never seen, or more recent, answered TSK001 is a lost task.
          const end = ended.get(id)
          const age = end?.timestamp !== undefined ? Date.now() - Date.parse(end.timestamp) : undefined
          if (age !== undefined && age > FINISHED_RETENTION_MS) { pruned.add(id); report.tasks.pruned = pruned.size; continue }
          finding(`task ${id} (acknowledged to ${lab.hosts[h].name}) is unknown to the coordinator ${name(r.result.leader)} of term ${String(r.result.term)}: lost` +
            (end !== undefined ? ` (its end, ${end.seen ?? ''}, is ${((age ?? 0) / 1000).toFixed(0)} s old; records are pruned ${FINISHED_RETENTION_MS / 1000} s after the end)` : ''))
          continue
        }
        if (s.error !== undefined) { open++; continue }
        const was = ended.get(id)
        if (was !== undefined) {
          if (flaggedTasks.has(id)) continue
          report.checks.recordedEnds++
          if (was.status !== s.status || was.attempt !== s.attempt || was.agent !== s.agent) {
            const now = `round ${report.rounds}, from the coordinator ${name(r.result.leader)} of term ${String(r.result.term)}`
            flaggedTasks.add(id)
            finding(`task ${id}'s recorded end changed: ${JSON.stringify({ ...was, agent: name(was.agent) })} then ${JSON.stringify({ ...s, agent: name(s.agent), seen: now })}`)
          }
          continue
        }
        if (!['completed', 'failed', 'cancelled'].includes(s.status)) { open++; continue }
        toVerify.set(id, { at: Date.now(), attempt: s.attempt, status: s.status })
        ended.set(id, { ...s, seen: `round ${report.rounds}, from the coordinator ${name(r.result.leader)} of term ${String(r.result.term)}` })
        // Failed after max_attempts losses of its agent is an end too (told once, kept): counted.
        if (s.status !== 'completed') { report.tasks.failed++; log(`task ${id} ended ${String(s.status)}: ${JSON.stringify(s)}`); continue }
        report.tasks.completed++
        const host = peerIds.indexOf(s.agent)
        const ranIt = (): boolean => ends.some(x => x.e.task_id === id && x.e.attempt === s.attempt && x.life.host.index === host)
        // The end line left its agent before the report did; give the other pipe a moment.
        if (!ranIt()) { await sleep(500); ends = endLines() }
        const runs = ends.filter(x => x.e.task_id === id)
        if (!ranIt() || s.by !== lab.hosts[host]?.name) {
          finding(`task ${id} completed as attempt ${String(s.attempt)} by ${lab.hosts[host]?.name ?? s.agent} (result by ${String(s.by)}), which printed no end of that attempt: ${JSON.stringify(runs.map(x => [x.life.host.name, x.e.attempt]))}`)
        }
        report.tasks.extraEnds += Math.max(0, runs.length - 1)
      }
    }
    if (final && open > 0) finding(`${open} acknowledged tasks had not ended (or their submitter could not tell) by the end`)
    return open === 0
  }

  /**
   * Part of invariant 2, the cause behind a changed end: an end a coordinator answered must be on
   * the disks of a majority of the voters (every agent here is one) within a second, or a
   * next coordinator will not know it and place the task again.
   */
  const checkEndsOnDisk = async (final: boolean): Promise<void> => {
    const due = [...toVerify].filter(([, v]) => final || Date.now() - v.at > 1_000)
    if (due.length === 0) return
    const ids = due.map(([id]) => id)
    const replicas = await Promise.all(lab.agents.map(async a => await a?.command({ cmd: 'replica', ids }, 10_000).catch(() => undefined)))
    if (replicas.some(r => r?.ok !== true)) return // asked again next round
    for (const [id, v] of due) {
      toVerify.delete(id)
      report.checks.endsOnDisk++
      const holders = replicas.map((r, i) => ({ i, rec: r?.result.records[id] })).filter(x => x.rec?.status === v.status && x.rec?.attempt === v.attempt)
      if (holders.length < Math.floor(HOSTS / 2) + 1) {
        const seen = ended.get(id)?.seen ?? ''
        finding(`task ${id}'s end (${v.status}, attempt ${v.attempt}), answered ${seen}, is on the disk of ${holders.length} of ${HOSTS} voters ` +
          `(${holders.map(x => lab.hosts[x.i].name).join(',') || 'none'}) ${((Date.now() - v.at) / 1000).toFixed(1)} s later; the others hold ` +
          JSON.stringify(replicas.map((r, i) => [lab.hosts[i].name, r?.result.records[id]])))
      }
    }
  }

  /** What the note's two hosts went through, for a finding: each life's start, end and what it printed of the note. */
  const noteStory = (n: Note, outcome: AgentEvent): string => {
    const lives = (h: number): string => lab.lives.filter(l => l.host.index === h)
      .map(l => `[pid ${l.pid} ${l.running ? 'running' : 'dead'}${l.events.some(e => e.note === n.id) ? ' ' + JSON.stringify(l.events.filter(e => e.note === n.id)) : ''}]`).join(' ')
    return `note ${n.id} sent at ${String(outcome.at)}: ${lab.hosts[n.fromHost].name} ${lives(n.fromHost)} -> ${lab.hosts[n.toHost].name} ${lives(n.toHost)}`
  }

  /** Invariant 3; returns the number of notes whose outcome is still to come from a live sender. */
  const checkNotes = async (final: boolean): Promise<number> => {
    const letters = await Promise.all(lab.hosts.map(async h => {
      const r = await lab.agent(h.index).command({ cmd: 'dead-letters' }, 10_000).catch(() => undefined)
      return new Set(r?.ok === true ? (r.result.letters as Array<{ note?: string }>).map(l => l.note) : [])
    }))
    // The receivers' lines as they are after that wait, not before it: an outcome that came in
    // meanwhile was judged against a list older than itself (seed 1606683835, round 103: the
    // receiver's line printed 10 ms before its sender's, counted as never seen).
    const got = new Set(allEvents(lab).filter(x => x.e.event === 'got').map(x => x.e.note as string))
    let pending = 0
    report.notes = { sent: notes.length, delivered: 0, deadLettered: 0, lostWithSender: 0 }
    for (const n of notes) {
      const outcome = lab.lives.filter(l => l.host.index === n.fromHost).flatMap(l => l.events).find(e => e.event === 'sent' && e.note === n.id)
      const delivered = got.has(n.id)
      const kept = letters[n.fromHost].has(n.id)
      if (delivered) report.notes.delivered++
      else if (kept) report.notes.deadLettered++
      if (outcome === undefined) {
        // Asked of a life that died before it told: it may have reached the outbox (then a
        // later life resends it) or not (nobody was told it was taken). Not a check.
        if (!n.asked.running && !delivered && !kept) { if (final) report.notes.lostWithSender++ } else if (n.asked.running) pending++
        continue
      }
      // The receiver's line and the sender's come down two pipes, read by this process when it
      // gets to them (seconds late on a loaded host): an outcome is judged once LINE_LAG_MS old.
      if (!final && !delivered && Date.now() - Number(outcome.at) < LINE_LAG_MS) { pending++; continue }
      if (flaggedNotes.has(n.id)) continue
      report.checks.notes++
      const broke = outcome.outcome === 'delivered' && !delivered
        ? 'its sender was told delivered, the receiver\'s handler never saw it'
        : outcome.outcome === 'failed' && outcome.deadLetterId === undefined
          ? 'given up with no dead letter'
          : !delivered && !kept ? 'neither delivered nor in its sender\'s dead letters' : undefined
      if (broke !== undefined) { flaggedNotes.add(n.id); finding(`${broke}: ${noteStory(n, outcome)}`) }
    }
    return pending
  }

  try {
    const agents = await lab.start(envFor)
    for (const a of agents) peerIds[a.host.index] = a.peerId
    await whole('the first whole mesh')
    const working = workload()
    const total = (): number => KINDS.reduce((s, k) => s + report.faults[k], 0)
    while (total() < options.faults) {
      report.rounds++
      const n = Math.min(options.faults - total(), between(minPer, maxPer))
      const undos: Array<() => Promise<void>> = []
      for (let f = 0; f < n; f++) {
        // A kill needs an agent not already down (the killed ones restart in the background, so a
        // round of many kills can have all five down at once); a pause needs one running.
        const kinds = KINDS.filter(k => (k !== 'pause' || running().length > 0) && (k !== 'kill' || down.size < HOSTS))
        undos.push(apply(pick(kinds)))
        // Now and then the next fault starts while this one is still on.
        if (f < n - 1 && undos.length < 3 && rand() < 0.25) { await sleep(between(50, 300)); continue }
        await sleep(between(100, 700))
        for (const undo of undos.splice(0).reverse()) await undo()
      }
      lab.heal()
      for (const undo of undos.splice(0).reverse()) await undo()
      await Promise.all(restarting.values())
      await whole(`the mesh whole after round ${report.rounds}`)
      checkTerms()
      await checkTasks(false)
      // The ends just answered, a second later: the mesh is whole and a replication takes 25 ms and a round trip.
      await sleep(1_000)
      await checkEndsOnDisk(false)
      await checkNotes(false)
      report.tasks.acknowledged = acknowledged.size
      log(`round ${report.rounds}: ${done.splice(0).join(', ')} (* the coordinator); totals ${KINDS.map(k => `${k} ${report.faults[k]}`).join(', ')}; ` +
        `tasks ${report.tasks.acknowledged} acknowledged, ${report.tasks.completed} completed; notes ${notes.length}; findings ${report.findings.length}`)
    }
    work.stop = true
    await working
    await waitFor(() => inflight === 0, 'the workload\'s last commands', 30_000)
    // The end: every acknowledged task ended, every outcome from a live sender in.
    await waitFor(async () => await checkTasks(false) && await checkNotes(false) === 0, 'every acknowledged task to end and every outcome to come in', 60_000).catch(() => {})
    checkTerms()
    await checkTasks(true)
    await sleep(2_000)
    await checkEndsOnDisk(true)
    await checkNotes(true)
    report.tasks.acknowledged = acknowledged.size
  } finally {
    work.stop = true
    await Promise.allSettled(restarting.values())
    await lab.destroy()
    if (options.keep ?? report.findings.length > 0) {
      await keepLogs(lab, dir, seed, report.findings)
      log(`kept the lab's data directories and every agent's lines and stderr in ${dir} (logs/)`)
    } else {
      await rm(dir, { recursive: true, force: true })
    }
    report.ms = Date.now() - t0
  }
  log(summary(report))
  return report
}

/**
 * Every life of every host, its lines (JSON, as printed) and its stderr (the last of it), in
 * dir/logs/<host>-<n>-pid<pid>.jsonl and .stderr: what a finding is read against afterwards.
 */
async function keepLogs (lab: NetnsLab, dir: string, seed: number, findings: string[]): Promise<void> {
  const logs = join(dir, 'logs')
  await mkdir(logs, { recursive: true })
  const count = new Map<number, number>()
  for (const life of lab.lives) {
    const n = count.get(life.host.index) ?? 0
    count.set(life.host.index, n + 1)
    const base = join(logs, `${life.host.name}-${n}-pid${life.pid}`)
    await writeFile(`${base}.jsonl`, life.events.map(e => JSON.stringify(e)).join('\n') + '\n')
    await writeFile(`${base}.stderr`, life.stderr)
  }
  await writeFile(join(logs, 'findings.txt'), `seed ${seed}\n${findings.join('\n')}\n`)
}

/** The campaign's counts in a few lines. */
export function summary (r: CampaignReport): string {
  const faults = KINDS.reduce((s, k) => s + r.faults[k], 0)
  return [
    `fault campaign seed ${r.seed}: ${faults} faults (${KINDS.map(k => `${k} ${r.faults[k]}`).join(', ')}) in ${r.rounds} rounds, ${(r.ms / 1000).toFixed(1)} s`,
    `  checks: ${r.checks.terms} terms / ${r.checks.leaders} leader checks, ${r.checks.taskStatuses} task statuses, ${r.checks.recordedEnds} recorded ends re-read, ${r.checks.endsOnDisk} ends looked for on the voters' disks, ${r.checks.notes} note outcomes`,
    `  tasks: ${r.tasks.submitted} submitted, ${r.tasks.acknowledged} acknowledged, ${r.tasks.completed} completed, ${r.tasks.failed} failed (agent lost max_attempts times), ${r.tasks.extraEnds} extra ends of unrecorded attempts, ${r.tasks.pruned} pruned after their end`,
    `  notes: ${r.notes.sent} sent, ${r.notes.delivered} delivered, ${r.notes.deadLettered} dead-lettered, ${r.notes.lostWithSender} asked of a sender killed before it told`,
    `  findings: ${r.findings.length === 0 ? 'none' : r.findings.join('; ')}`
  ].join('\n')
}
