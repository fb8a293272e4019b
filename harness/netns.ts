/**
 * A lab of hosts in Linux network namespaces: each agent runs in its own namespace with its own
 * address (10.77.0.<i+1>/24) on a bridge, as containers on a network would. The bridges live in
 * a namespace of their own, so the lab touches nothing of the machine's network. A partition
 * moves the hosts of each side to a bridge of their own; a cut link is the host's bridge port
 * taken down; both are undone by heal(). Processes are killed (SIGKILL) or paused (SIGSTOP).
 * Needs root and iproute2.
 *
 * By hand (as root):  node dist/harness/netns.js 5
 * starts five agents and reads commands on stdin: partition 0,1|2,3,4 · heal · cut 2 · kill 2 ·
 * pause 2 · resume 2 · status · quit. Each agent's debug endpoint answers inside its namespace:
 * ip netns exec <namespace> curl <debugUrl>/coordinator
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const AGENT = fileURLToPath(new URL('./fixtures/netns-agent.js', import.meta.url))
const PREFIX = 'amlab'
const PORT = 4001

/** Why this machine cannot host a lab, or undefined when it can. */
export function netnsUnavailable (): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'network namespaces need root (CI runs as root)'
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' })
  } catch {
    return 'the "ip" command (iproute2) is not on PATH'
  }
  const probe = `${PREFIX}${process.pid}-probe`
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' })
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' })
  } catch (err) {
    return `cannot create a network namespace: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`
  }
  return undefined
}

function ip (...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'pipe' })
  } catch (err) {
    throw new Error(`ip ${args.join(' ')}: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`)
  }
}

/** Namespaces left by labs whose process died without cleaning up (a crashed test run). */
function removeOrphans (): void {
  const dir = '/run/netns'
  if (!existsSync(dir)) return
  for (const name of readdirSync(dir)) {
    // Named `${PREFIX}<pid>x<n>-<host>` (NetnsLab.create): the pid is the lab's process.
    const pid = new RegExp(`^${PREFIX}(\\d+)x\\d+-`).exec(name)?.[1]
    if (pid === undefined) continue
    let alive = true
    try { process.kill(Number(pid), 0) } catch { alive = false }
    if (!alive) { try { ip('netns', 'del', name) } catch {} }
  }
}

export interface AgentEvent { event: string, [k: string]: any }

/** One agent process in its namespace, driven over stdin/stdout. */
export class LabAgent {
  readonly events: AgentEvent[] = []
  peerId = ''
  debugUrl = ''
  stderr = ''
  private readonly child: ChildProcess
  private readonly pending = new Map<number, (o: any) => void>()
  private readonly watchers = new Set<() => void>()
  private nextId = 1

  constructor (readonly host: LabHost, env: Record<string, string>, script = AGENT) {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
    // `ip netns exec` enters the namespace and then execs node: the pid is node's own, so the
    // signals of kill() and pause() reach the agent itself.
    this.child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, script], { env: { ...clean, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stderr?.on('data', (d) => { this.stderr = (this.stderr + String(d)).slice(-200_000) })
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let o: any
      try { o = JSON.parse(line) } catch { return }
      if (typeof o.id === 'number') { this.pending.get(o.id)?.(o); this.pending.delete(o.id); return }
      if (o.event === 'started') { this.peerId = o.peerId; this.debugUrl = o.debugUrl ?? '' }
      this.events.push(o)
      for (const w of this.watchers) w()
    })
    this.child.on('exit', () => {
      for (const [id, resolve] of this.pending) resolve({ id, ok: false, code: 'EXITED', error: 'the agent exited' })
      this.pending.clear()
    })
  }

  get running (): boolean { return this.child.exitCode === null && this.child.signalCode === null }
  get pid (): number { return this.child.pid ?? -1 }

  /** Send a command; resolves with its answer ({ ok, result } or { ok: false, code, error }). */
  async command (cmd: Record<string, unknown>, timeoutMs = 10_000): Promise<{ ok: boolean, result?: any, code?: string, error?: string }> {
    if (!this.running) return { ok: false, code: 'EXITED', error: 'the agent is not running' }
    const id = this.nextId++
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${this.host.name}: no answer to ${JSON.stringify(cmd)} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, (o) => { clearTimeout(t); resolve(o) })
      this.child.stdin?.write(`${JSON.stringify({ id, ...cmd })}\n`)
    })
  }

  async event (match: (e: AgentEvent) => boolean, what: string, timeoutMs = 20_000): Promise<AgentEvent> {
    const found = this.events.find(match)
    if (found !== undefined) return found
    return await new Promise((resolve, reject) => {
      const done = (): void => {
        const e = this.events.find(match)
        if (e === undefined && this.running) return
        clearTimeout(t)
        this.watchers.delete(done)
        if (e !== undefined) resolve(e)
        else reject(new Error(`${this.host.name} exited before ${what}: ${this.stderr.slice(-2000)}`))
      }
      const t = setTimeout(() => {
        this.watchers.delete(done)
        reject(new Error(`${this.host.name}: timed out after ${timeoutMs} ms waiting for ${what}${this.stderr === '' ? '' : `; its stderr: ${this.stderr.slice(-2000)}`}`))
      }, timeoutMs)
      this.watchers.add(done)
      this.child.once('exit', done)
    })
  }

  signal (sig: NodeJS.Signals): void { if (this.running) this.child.kill(sig) }

  async stop (): Promise<void> {
    if (!this.running) return
    const exited = new Promise<void>(resolve => this.child.once('exit', () => { resolve() }))
    this.child.kill('SIGCONT') // a paused agent cannot stop
    this.child.kill('SIGTERM')
    const t = setTimeout(() => { this.child.kill('SIGKILL') }, 5_000)
    await exited
    clearTimeout(t)
  }
}

export interface LabHost { index: number, name: string, ns: string, ip: string, port: string }

export class NetnsLab {
  readonly hosts: LabHost[]
  readonly agents: Array<LabAgent | undefined> = []
  /** Every agent process ever started here, in order: a restarted host's earlier lives stay, with what they printed. */
  readonly lives: LabAgent[] = []
  private readonly bridgeNs: string
  private destroyed = false

  private constructor (readonly size: number, id: string, private readonly script: string) {
    this.bridgeNs = `${PREFIX}${id}-br`
    this.hosts = Array.from({ length: size }, (_, i) => ({ index: i, name: `h${i}`, ns: `${PREFIX}${id}-h${i}`, ip: `10.77.0.${i + 1}`, port: `p${i}` }))
  }

  /** Make the namespaces, the bridges and one link per host. Throws with the reason where it cannot. */
  static create (size: number, options: { agent?: string } = {}): NetnsLab {
    const why = netnsUnavailable()
    if (why !== undefined) throw new Error(`the network-namespace lab cannot run here: ${why} (run as root, with iproute2 installed)`)
    removeOrphans()
    const lab = new NetnsLab(size, `${process.pid}x${Math.floor(Math.random() * 1e4)}`, options.agent ?? AGENT)
    try {
      lab.build()
    } catch (err) {
      lab.destroy()
      throw err
    }
    return lab
  }

  private build (): void {
    const br = this.bridgeNs
    ip('netns', 'add', br)
    ip('-n', br, 'link', 'set', 'lo', 'up')
    // One bridge per possible side of a partition; every host starts on br0.
    for (let b = 0; b < this.size; b++) {
      ip('-n', br, 'link', 'add', `br${b}`, 'type', 'bridge')
      ip('-n', br, 'link', 'set', `br${b}`, 'up')
    }
    for (const h of this.hosts) {
      ip('netns', 'add', h.ns)
      ip('-n', h.ns, 'link', 'set', 'lo', 'up')
      // Created inside the host's namespace, its far end moved to the bridges' namespace: no
      // interface ever appears in the machine's own namespace.
      ip('-n', h.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', h.port, 'netns', br)
      ip('-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0')
      ip('-n', h.ns, 'link', 'set', 'eth0', 'up')
      ip('-n', br, 'link', 'set', h.port, 'master', 'br0')
      ip('-n', br, 'link', 'set', h.port, 'up')
    }
  }

  address (i: number): string { return `/ip4/${this.hosts[i].ip}/tcp/${PORT}` }

  /**
   * Start an agent on every host (or the given ones), each bootstrapping from all the others'
   * addresses, and wait until each has started. `env` adds AGENTMESH_* settings (per host when a
   * function). Starting a host that had an agent replaces it (a restart); the old one stays in `lives`.
 * Rejects when one has not started within `timeoutMs` (it is left running: stop it or start again).
   */
  async start (
    env: Record<string, string> | ((i: number) => Record<string, string>) = {}, which = this.hosts.map(h => h.index), timeoutMs = 20_000
  ): Promise<LabAgent[]> {
    const started = which.map(i => {
      const h = this.hosts[i]
      const extra = typeof env === 'function' ? env(i) : env
      const agent = new LabAgent(h, {
        AGENTMESH_NAME: h.name,
        AGENTMESH_MESH: 'lab',
        AGENTMESH_LISTEN: this.address(i),
        AGENTMESH_BOOTSTRAP: this.hosts.filter(o => o.index !== i).map(o => this.address(o.index)).join(','),
        AGENTMESH_MDNS: 'false',
        AGENTMESH_DEBUG: '127.0.0.1:0',
        AGENTMESH_LOG_LEVEL: 'warn',
        // A lab of one owner's hosts: open (nodes are closed by default), the warning it logs aside.
        AGENTMESH_SECURITY_MODE: 'open',
        ...extra
      }, this.script)
      this.agents[i] = agent
      this.lives.push(agent)
      return agent
    })
    await Promise.all(started.map(async a => await a.event(e => e.event === 'started', 'the agent to start', timeoutMs)))
    return started
  }

  agent (i: number): LabAgent {
    const a = this.agents[i]
    if (a === undefined) throw new Error(`no agent on ${this.hosts[i].name}`)
    return a
  }

  /** Split the hosts into sides that cannot reach each other: partition([[0, 1], [2, 3, 4]]). */
  partition (sides: number[][]): void {
    sides.forEach((side, b) => { for (const i of side) ip('-n', this.bridgeNs, 'link', 'set', this.hosts[i].port, 'master', `br${b}`) })
  }

  /** Take one host's link down: it reaches nobody and nobody reaches it. */
  cut (i: number): void { ip('-n', this.bridgeNs, 'link', 'set', this.hosts[i].port, 'down') }

  /**
   * A cut that drops packets silently: the others are first told the host's link-layer address
   * for good, so a dial to it sends its SYN into the void and waits out its timeout (after a
   * plain cut the address lookup fails in ~3 s and the dial fails with it: no black hole).
   */
  blackhole (i: number): void {
    const h = this.hosts[i]
    const mac = JSON.parse(execFileSync('ip', ['-n', h.ns, '-j', 'link', 'show', 'eth0'], { encoding: 'utf8' }))[0].address as string
    for (const o of this.hosts) if (o !== h) ip('-n', o.ns, 'neigh', 'replace', h.ip, 'lladdr', mac, 'dev', 'eth0', 'nud', 'permanent')
    this.cut(i)
  }

  /** Every host back on one bridge, every link up. */
  heal (): void {
    for (const h of this.hosts) {
      ip('-n', this.bridgeNs, 'link', 'set', h.port, 'master', 'br0')
      ip('-n', this.bridgeNs, 'link', 'set', h.port, 'up')
    }
  }

  kill (i: number): void { this.agent(i).signal('SIGKILL') }
  pause (i: number): void { this.agent(i).signal('SIGSTOP') }
  resume (i: number): void { this.agent(i).signal('SIGCONT') }

  /** Stop every agent and remove every namespace (with them their links and bridges). */
  async destroy (): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    await Promise.all(this.lives.map(async a => { await a.stop() }))
    for (const ns of [...this.hosts.map(h => h.ns), this.bridgeNs]) {
      try { ip('netns', 'del', ns) } catch { /* never made */ }
    }
  }
}

// By hand: node dist/harness/netns.js [hosts]
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const lab = NetnsLab.create(Number(process.argv[2] ?? 5))
  const quit = async (): Promise<void> => { await lab.destroy(); process.exit(0) }
  process.on('SIGINT', () => { void quit() })
  const agents = await lab.start()
  for (const a of agents) console.log(`${a.host.name}  ${a.host.ip}  ns ${a.host.ns}  ${a.debugUrl}  ${a.peerId}`)
  console.log('commands: partition 0,1|2,3 · heal · cut N · kill N · pause N · resume N · status · quit')
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg = ''] = line.trim().split(/\s+/)
    try {
      switch (cmd) {
        case 'partition': lab.partition(arg.split('|').map(s => s.split(',').map(Number))); break
        case 'heal': lab.heal(); break
        case 'cut': lab.cut(Number(arg)); break
        case 'kill': lab.kill(Number(arg)); break
        case 'pause': lab.pause(Number(arg)); break
        case 'resume': lab.resume(Number(arg)); break
        case 'status':
          for (const a of lab.agents) {
            const c = a?.running === true ? (await a.command({ cmd: 'status' })).result?.coordinator : undefined
            const what = c === undefined ? 'down' : `term ${String(c.term)} ${String(c.situation)} leader ${String(c.leaderName ?? '-')}`
            console.log(`${a?.host.name ?? '?'}  ${what}`)
          }
          break
        case 'quit': await quit(); break
        default: console.log('?')
      }
    } catch (err) { console.log((err as Error).message) }
  }
  await quit()
}
