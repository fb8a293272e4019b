/**
 * Admission in a closed mesh (docs/security.md): which connected peers showed a credential of
 * this node's mesh owner, and the gates every agentmesh protocol asks before serving a peer.
 * A peer is admitted by the card exchange (protocols/discovery/membership.ts calls `check`); one that
 * shows none within `admissionTimeoutMs` of connecting, or a bad one, is disconnected. The
 * newest signed revocation list is kept, spread by gossip and by the card exchange, and every
 * admitted peer it revokes is disconnected at once. In open mode every gate says yes.
 *
 * Credentials are timed while connected: an admitted peer is disconnected when its credential
 * expires (`admission.expired`), and this node warns before its own expires and reports it
 * expired on /health (it keeps running: see `ownExpired`). Every decision goes to the audit sink.
 */
import { unwatchFile, watchFile } from 'node:fs'
import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import { peerIdOf } from '../protocols/core/peer-keys.js'
import type { AgentConfig } from './config.js'
import type { Logger } from './log.js'
import { readFile } from 'node:fs/promises'
import { HOW_TO_GET, OPEN_MODE_WARNING, type Security } from './security-load.js'
import { ConfigError, NotAdmittedError } from '../protocols/core/errors.js'
import { verifyCredential, type Credential } from '../protocols/admission/credential.js'
import { RevocationList, Revocations, verifyRevocations } from '../protocols/admission/revocation.js'
import { COORDINATOR_ROLE, REFUSED_ANSWER_GRACE_MS, REVOCATIONS_TOPIC_NAME } from '../protocols/admission/constants.js'
import { RefusalBackoff } from '../protocols/admission/refusal-backoff.js'
import { defineTopic } from '../protocols/pubsub/topics.js'
import type { PubSubService } from '../protocols/pubsub/index.js'
import { CardExchange } from '../protocols/discovery/card.js'
import { CONNECTION_GATE_SERVICE, ConnectionGate, hostOf } from './connection-gate.js'
import { runAt } from './run-at.js'
import { AuditPacer, noAudit, type AuditEvent, type AuditSink } from '../protocols/core/audit.js'
import type { RevocationVerdict } from './revocation-command.js'

export const REVOCATIONS_TOPIC = defineTopic(REVOCATIONS_TOPIC_NAME, RevocationList)

export interface AdmissionInit {
  libp2p: Libp2p
  log: Logger
  config: AgentConfig
  security: Security
  /** Built after the gates that use this service; read once it starts. */
  pubsub: () => PubSubService
  /** Where admission decisions, revocations and credential changes are recorded. */
  audit?: AuditSink
  /** Counts every decision: admission_decisions_total{result, reason}. */
  stats?: { inc: (name: 'admission_decisions_total', labels: Record<string, string>) => void }
}

/** Why a peer was refused, in a few words fit for a metric label (admission_decisions_total's reason). */
export function refusalReason (err: Error | undefined): string {
  if (err === undefined) return 'no_credential'
  const m = err.message
  return / is revoked/.test(m) ? 'revoked' : /expired/.test(m) ? 'expired' : /disconnected during/.test(m) ? 'left' : 'invalid'
}

/** This node warns of its own credential's expiry this long before it (a day), or at 10% of its life if shorter. */
const EXPIRY_WARNING_MS = 24 * 3_600_000

/** A refused peer's disconnection is logged at most this often (the audit trail keeps each). */
const REFUSAL_LOG_EVERY_MS = 60_000

/** Refused peers remembered (so their gossip relayed by others is refused too), oldest forgotten first. */
const MAX_REFUSED = 1_024

export class Admission {
  readonly closed: boolean
  private readonly init: AdmissionInit
  private readonly admitted = new Map<string, Credential>()
  private readonly refused = new Set<string>()
  private readonly logPacer = new AuditPacer(REFUSAL_LOG_EVERY_MS, MAX_REFUSED)
  /** Growing cool-downs of the peers and hosts refused (protocols/admission/refusal-backoff.ts). */
  private readonly backoff = new RefusalBackoff()
  private readonly pending = new Map<string, Promise<void>>()
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>()
  /** Per admitted peer: cancels the timer that expels it when its credential expires. */
  private readonly expiries = new Map<string, () => void>()
  private ownTimers: Array<() => void> = []
  private ownExpired = false
  private readonly listeners: Array<() => void> = []
  private onRevocationsFile?: () => void
  private readonly revocations = new Revocations()
  private running = false
  private gating = false
  private unsubscribe?: () => void

  constructor (init: AdmissionInit) {
    this.init = init
    this.closed = init.config.security.mode === 'closed'
    if (this.closed && init.security.credential === undefined) throw new ConfigError(`security.mode "closed" needs a checked credential: ${HOW_TO_GET}`)
    if (init.security.revocations !== undefined) this.revocations.offer(init.security.revocations)
  }

  private get own (): Credential { return this.init.security.credential as Credential }

  private audit (e: AuditEvent): void { (this.init.audit ?? noAudit).record(e) }

  private count (result: 'admitted' | 'refused' | 'expelled' | 'expired', reason: string): void {
    this.init.stats?.inc('admission_decisions_total', { result, reason })
  }

  private readonly onConnect = (evt: CustomEvent<Connection>): void => {
    const peer = evt.detail.remotePeer.toString()
    if (this.admitted.has(peer) || this.timers.has(peer)) return
    const t = setTimeout(() => {
      this.timers.delete(peer)
      if (this.admitted.has(peer)) return
      const reason = 'no valid credential shown in time'
      this.count('refused', 'timeout')
      // One whose card exchange is under way showed a credential, slowly (a loaded host): not cooled down.
      const cooldownMs = this.pending.has(peer) ? 0 : this.coolDown(peer)
      this.audit({ kind: 'admission.refused', peer, code: 'SEC001', reason, detail: { timeoutMs: this.init.config.security.admissionTimeoutMs, cooldownMs } })
      this.expel(peer, reason)
    }, this.init.config.security.admissionTimeoutMs)
    t.unref?.()
    this.timers.set(peer, t)
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    // A peer that comes back shows its credential again: it may have been revoked meanwhile.
    this.admitted.delete(peer)
    this.unexpire(peer)
    clearTimeout(this.timers.get(peer))
    this.timers.delete(peer)
  }

  /** The node's connection gate (node/connection-gate.ts), when its libp2p node has one. */
  private gate (): ConnectionGate | undefined {
    const gate = (this.init.libp2p.services as Record<string, unknown> | undefined)?.[CONNECTION_GATE_SERVICE]
    return gate instanceof ConnectionGate ? gate : undefined
  }

  /**
   * The connection gater's rule (closed mesh): a peer whose id the revocation list names is
   * refused right after Noise, and not dialled, for as long as the list names it.
   */
  gates (peer: string): boolean {
    return this.closed && this.revocations.revoked({ serial: '', subject: peer })
  }

  start (): void {
    if (!this.closed) {
      // A client is short-lived and prints answers, not warnings: its open mode is said at info.
      if (!this.running) this.init.log[this.init.config.client ? 'info' : 'warn'](OPEN_MODE_WARNING)
      this.running = true
      return
    }
    if (this.running) return
    this.running = true
    if (!this.gating) this.gate()?.rule(peer => this.running && this.gates(peer) ? 'revoked' : undefined)
    // Gossipsub scores a peer by it: not admitted, it is sent nothing (node/libp2p.ts).
    const gate = this.gate()
    if (gate !== undefined) gate.admitted = (peer) => this.admitted.has(peer)
    this.gating = true
    const { libp2p } = this.init
    libp2p.addEventListener('connection:open', this.onConnect)
    libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    const sub = this.init.pubsub().subscribe(REVOCATIONS_TOPIC)
    this.unsubscribe = () => { sub.unsubscribe() }
    void (async () => { for await (const m of sub) await this.offer(m.payload, `gossip from ${m.from}`) })()
    const file = this.init.config.security.revocations
    if (file !== undefined) {
      // The operator revokes into the file a running node was given (`agentmesh credential revoke --list`).
      this.onRevocationsFile = () => {
        // A file caught mid-write is not JSON yet: say so, and read it again at its next change.
        readFile(file, 'utf8').then(async text => { await this.offer(JSON.parse(text), `file ${file}`) })
          .catch((err: Error) => { this.init.log.warn({ file, error: err.message }, 'revocation list file unreadable') })
      }
      watchFile(file, { interval: 500, persistent: false }, this.onRevocationsFile)
    }
    if (this.revocations.current !== undefined) this.spread(this.revocations.current)
    this.watchOwn()
  }

  /**
   * This node's own credential: loaded (audited), warned of before it expires, and reported
   * once expired. The node keeps running then: its peers disconnect it at the same moment (their
   * timers) and refuse it on reconnecting, so it is cut off either way; exiting would turn a
   * late renewal into a crash loop under a supervisor and take the debug endpoint with it,
   * which is where /health (`security.credentialExpired`) and the error line tell the operator.
   * It still admits peers with valid credentials: its own lapse says nothing against theirs.
   */
  private watchOwn (): void {
    const c = this.own
    this.audit({ kind: 'credential.loaded', peer: c.subject, detail: { serial: c.serial, roles: c.roles.join(','), expiresAt: c.expiresAt } })
    // The others know this node by its credential: what its configuration claims beyond it, they
    // never see (a capability asked for by waitForAgent, a role a handler allows), and nothing
    // else says so. `task:*` grants every `task:T`.
    const { roles, capabilities } = this.init.config
    const granted = (x: string): boolean => c.capabilities.includes(x) || (x.startsWith('task:') && c.capabilities.includes('task:*'))
    const notGranted = { roles: roles.filter(r => !c.roles.includes(r)), capabilities: capabilities.filter(x => !granted(x)) }
    if (notGranted.roles.length + notGranted.capabilities.length > 0) {
      const flags = [...(notGranted.roles.length > 0 ? [`--roles ${[...new Set([...c.roles, ...roles])].join(',')}`] : []),
        ...(notGranted.capabilities.length > 0 ? [`--capabilities ${[...new Set([...c.capabilities, ...capabilities])].join(',')}`] : [])]
      this.init.log.warn({ notGranted, granted: { roles: c.roles, capabilities: c.capabilities } },
        `this node claims roles or capabilities its credential does not grant; the mesh sees only the credential's. Ask the mesh owner for one with ${flags.join(' ')}`)
    }
    const warnAt = c.expiresAt - Math.min(EXPIRY_WARNING_MS, (c.expiresAt - c.issuedAt) / 10)
    const expiresIn = (): number => c.expiresAt - Date.now()
    this.ownTimers = [
      runAt(warnAt, () => {
        if (expiresIn() <= 0) return
        this.init.log.warn({ serial: c.serial, expiresAt: new Date(c.expiresAt).toISOString() }, 'this node\'s credential expires soon: ask the mesh owner for a new one')
        this.audit({ kind: 'credential.expiring', peer: c.subject, reason: `expires in ${Math.round(expiresIn() / 1000)} s`, detail: { serial: c.serial, expiresAt: c.expiresAt } })
      }),
      runAt(c.expiresAt, () => {
        this.ownExpired = true
        this.init.log.error({ serial: c.serial, expiresAt: new Date(c.expiresAt).toISOString() }, 'this node\'s credential expired: the mesh refuses it until it is given a new one and restarted')
        this.audit({ kind: 'credential.expired', peer: c.subject, code: 'SEC001', reason: 'own credential expired', detail: { serial: c.serial, expiresAt: c.expiresAt } })
      })
    ]
  }

  /** Disconnect an admitted peer when its credential expires (checked at connection only, before). */
  private expireAt (peer: string, c: Credential): void {
    this.unexpire(peer)
    this.expiries.set(peer, runAt(c.expiresAt, () => {
      this.expiries.delete(peer)
      if (this.admitted.get(peer) !== c) return
      const reason = `credential ${c.serial} expired at ${new Date(c.expiresAt).toISOString()}`
      this.count('expired', 'expired')
      this.audit({ kind: 'admission.expired', peer, code: 'SEC001', reason, detail: { serial: c.serial } })
      this.expel(peer, reason)
    }))
  }

  private unexpire (peer: string): void {
    this.expiries.get(peer)?.()
    this.expiries.delete(peer)
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    if (!this.closed) return
    const { libp2p } = this.init
    libp2p.removeEventListener('connection:open', this.onConnect)
    libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    // This node's listener only: another node of the process may watch the same file.
    const file = this.init.config.security.revocations
    if (file !== undefined && this.onRevocationsFile !== undefined) unwatchFile(file, this.onRevocationsFile)
    this.onRevocationsFile = undefined
    this.unsubscribe?.()
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    for (const cancel of [...this.expiries.values(), ...this.ownTimers]) cancel()
    this.expiries.clear()
    this.ownTimers = []
    this.admitted.clear()
  }

  /** The rpc gate: only the card exchange until the peer is admitted; waits for an exchange under way. */
  admitsCommand (peer: string, command: string): boolean | Promise<boolean> {
    if (!this.closed || command === CardExchange.name || this.admitted.has(peer)) return true
    const pending = this.pending.get(peer)
    return pending === undefined ? false : pending.then(() => this.admitted.has(peer))
  }

  /** The stream protocols' gate (negotiation, learning). */
  admits (peer: string): boolean { return !this.closed || this.admitted.has(peer) }

  /**
   * The gossip gate. The relaying peer must be admitted here; the publisher, when it is not
   * connected here, was admitted by whoever relayed it first (every agent gates what it relays),
   * so only a publisher known to be refused or revoked, or connected and not admitted, is refused.
   */
  admitsGossip (propagator: string, publisher: string): 'accept' | 'ignore' | 'reject' {
    if (!this.closed) return 'accept'
    if (this.refused.has(propagator) || this.refused.has(publisher) || this.revocations.revoked({ serial: '', subject: publisher })) return 'reject'
    // A publisher connected here whose card exchange is still running is no stranger yet: its
    // gossip, first-hand or relayed by an admitted agent, is ignored, so the relay is not penalised.
    return this.admitted.has(propagator) && (this.admitted.has(publisher) || !this.connected(publisher)) ? 'accept' : 'ignore'
  }

  /** The member view's `ignores`: heartbeats and probes of these peers count for nothing. */
  distrusts (peer: string): boolean {
    if (!this.closed || this.admitted.has(peer)) return false
    return this.refused.has(peer) || this.revocations.revoked({ serial: '', subject: peer }) || this.connected(peer)
  }

  /**
   * Called when a peer is admitted or expelled: what `mayBeEligible` says of it changed, and the
   * election (told of members only when their state changes) must read the member view again.
   * An agent heard by gossip before its card exchange ended was told to it as not eligible.
   */
  onChange (listener: () => void): void { this.listeners.push(listener) }

  private changed (): void { for (const l of this.listeners) l() }

  /** Closed mesh: only a peer whose credential grants the coordinator role may vote or be elected. */
  mayBeEligible (peer: string): boolean {
    return !this.closed || (this.admitted.get(peer)?.roles.includes(COORDINATOR_ROLE) ?? false)
  }

  /** Whether this node itself may vote (its own credential, in a closed mesh). */
  get selfEligible (): boolean { return !this.closed || this.own.roles.includes(COORDINATOR_ROLE) }

  /** Whether the newest revocation list names this credential (by serial or subject). */
  revoked (c: Pick<Credential, 'serial' | 'subject'>): boolean { return this.revocations.revoked(c) }

  /** This node's credential in a closed mesh, carried on its member statements. */
  get credential (): Credential | undefined { return this.closed ? this.own : undefined }

  /** The credential an admitted peer showed. */
  credentialOf (peer: string): Credential | undefined { return this.admitted.get(peer) }

  health (): {
    mode: 'open' | 'closed',
    warning?: string,
    issuer?: string,
    admitted?: number,
    revocationsIssuedAt?: number,
    credentialExpiresAt?: number,
    credentialExpired?: boolean,
    /** Peers and hosts refused admission and kept out now (their cool-downs), counted. */
    coolingDown?: { peers: number, hosts: number }
  } {
    if (!this.closed) return { mode: 'open', warning: OPEN_MODE_WARNING }
    const list = this.revocations.current
    const expired = this.ownExpired || this.own.expiresAt <= Date.now()
    return {
      mode: 'closed',
      issuer: this.own.issuer,
      admitted: this.admitted.size,
      ...(list !== undefined ? { revocationsIssuedAt: list.issuedAt } : {}),
      credentialExpiresAt: this.own.expiresAt,
      credentialExpired: expired,
      ...this.cooling()
    }
  }

  // --- the card exchange's side (protocols/discovery/membership.ts CardAdmission) ----------------------

  shown (): { credential?: unknown, revocations?: unknown } {
    if (!this.closed) return {}
    const list = this.revocations.current
    return { credential: this.own, ...(list !== undefined ? { revocations: list } : {}) }
  }

  expecting (peer: string): () => void {
    if (!this.closed) return () => {}
    let done!: () => void
    const p = new Promise<void>(resolve => { done = resolve })
    this.pending.set(peer, p)
    return () => { if (this.pending.get(peer) === p) this.pending.delete(peer); done() }
  }

  async check (peer: string, shown: { credential?: unknown, revocations?: unknown }): Promise<{ roles: string[], capabilities: string[] } | undefined> {
    if (!this.closed) return undefined
    if (shown.revocations !== undefined) await this.offer(shown.revocations, `card exchange with ${peer}`)
    try {
      const c = await verifyCredential(shown.credential, {
        issuer: this.own.issuer, mesh: this.own.mesh, subject: peer, now: Date.now(), revoked: x => this.revocations.revoked(x)
      })
      // The skew allowance of verifyCredential is for clocks at connection; past its expiry on
      // this node's clock it would be disconnected at once by the timer below, and reconnect.
      if (c.expiresAt <= Date.now()) throw new NotAdmittedError(`credential expired at ${new Date(c.expiresAt).toISOString()}`)
      if (!this.connected(peer)) throw new NotAdmittedError('the peer disconnected during its card exchange')
      const again = this.admitted.get(peer)?.serial === c.serial
      this.admitted.set(peer, c)
      this.expireAt(peer, c)
      this.refused.delete(peer)
      clearTimeout(this.timers.get(peer))
      this.timers.delete(peer)
      this.init.log.debug({ peer, serial: c.serial, roles: c.roles }, 'peer admitted')
      // Both sides' exchanges show the credential: one line per admission, not two.
      if (!again) this.changed()
      if (!again) this.count('admitted', 'credential')
      if (!again) this.audit({ kind: 'admission.admitted', peer, detail: { serial: c.serial, roles: c.roles.join(','), capabilities: c.capabilities.length, expiresAt: c.expiresAt } })
      return { roles: c.roles, capabilities: c.capabilities }
    } catch (err) {
      const why = shown.credential === undefined ? new NotAdmittedError('no credential shown: this mesh is closed') : err as Error
      const reason = refusalReason(shown.credential === undefined ? undefined : why)
      this.count('refused', reason)
      // A peer that left during its own check is not cooled down: it showed nothing wrong.
      const cooldownMs = reason === 'left' ? 0 : this.coolDown(peer)
      this.audit({ kind: 'admission.refused', peer, code: 'SEC001', reason: why.message.slice(0, 512), detail: { cooldownMs } })
      // Soon, yet after the SEC001 answer has been read, so the peer learns why.
      setTimeout(() => { this.expel(peer, why.message) }, REFUSED_ANSWER_GRACE_MS).unref?.()
      throw why
    }
  }

  /**
   * A revocation list from anywhere: kept if signed by the owner and newer, then enforced and
   * spread. What became of it: `taken` (with the peers expelled), or not (`held`: the list kept,
   * as new or newer), or `refused` (a forged or malformed list: audited, as an admitted peer sent it).
   */
  async offer (input: unknown, from: string): Promise<RevocationVerdict> {
    if (!this.closed) return { refused: new ConfigError('this node is open: it holds no revocation list (a closed mesh\'s owner signs them)') }
    let list: RevocationList
    try {
      list = await verifyRevocations(input, { mesh: this.own.mesh, issuer: this.own.issuer })
    } catch (err) {
      this.init.log.warn({ from, error: (err as Error).message }, 'revocation list refused')
      this.audit({ kind: 'revocations.refused', code: (err as NotAdmittedError).code, reason: from, detail: { error: (err as Error).message.slice(0, 200) } })
      return { refused: err as NotAdmittedError }
    }
    const had = this.revocations.current !== undefined
    if (!this.revocations.offer(list)) return { list, held: this.revocations.current as RevocationList }
    let expelled = 0
    // A node that held none (no --revocations) learns the mesh's list as it joins, as every client
    // of a closed mesh with one does: routine, said at info. A newer one than it held is a revocation made while it runs: a warning.
    const taken = { from, issuedAt: list.issuedAt, serials: list.serials.length, subjects: list.subjects.length }
    if (had) this.init.log.warn(taken, 'newer revocation list taken')
    else this.init.log.info(taken, 'revocation list taken')
    this.audit({ kind: 'revocations.accepted', reason: from, detail: { issuedAt: list.issuedAt, serials: list.serials.length, subjects: list.subjects.length } })
    if (this.revocations.revoked(this.own)) this.init.log.error({ serial: this.own.serial }, 'this node\'s own credential is revoked: the mesh will refuse it')
    for (const [peer, c] of [...this.admitted]) {
      if (!this.revocations.revoked(c)) continue
      this.count('expelled', 'revoked')
      // Revoked by serial: its connections and this node's dials to it are refused for a while
      // (it may hold a newer credential); by its peer id: for as long as the list names it (`gates`).
      if (!this.gates(peer)) this.gate()?.coolDown(peer, this.init.config.rpc.cooldownMs)
      this.audit({ kind: 'admission.expelled', peer, code: 'SEC001', reason: `credential ${c.serial} revoked`, detail: { serial: c.serial, listIssuedAt: list.issuedAt } })
      this.expel(peer, `credential ${c.serial} revoked`)
      expelled++
    }
    this.spread(list)
    return { list, taken: true, expelled }
  }

  private spread (list: RevocationList): void {
    if (this.running) this.init.pubsub().publish(REVOCATIONS_TOPIC, list).catch(() => {})
  }

  private cooling (): { coolingDown?: { peers: number, hosts: number } } {
    const c = this.gate()?.coolingDown()
    return c === undefined ? {} : { coolingDown: { peers: c.peers.length, hosts: c.hosts.length } }
  }

  /**
   * A refused peer, and the host it came from, kept out for a growing while (issue 43): the gate
   * refuses them right after Noise (the host: before anything is read), and this node does not
   * dial the peer either. Returns the peer's cool-down.
   */
  private coolDown (peer: string): number {
    const gate = this.gate()
    if (gate === undefined) return 0
    const now = Date.now()
    const hosts = this.init.libp2p.getConnections(peerIdOf(peer)).map(c => hostOf(c.remoteAddr)).filter((h): h is string => h !== undefined)
    // A peer on a trusted host (connections.trustedHosts: loopback by default) is not cooled down:
    // an agent of this host whose card came late on a loaded machine would lose seconds each time.
    if (hosts.length === 0 || hosts.some(h => gate.trusts(h))) return 0
    const ms = this.backoff.strike(peer, now)
    // Its host too: new peer ids from one host get no new admission windows.
    for (const host of new Set(hosts)) gate.coolDownHost(host, this.backoff.strike(`host ${host}`, now), now)
    // After the SEC001 answer has been read (expel waits REFUSED_ANSWER_GRACE_MS for it), so the peer learns why.
    setTimeout(() => { gate.coolDown(peer, ms) }, REFUSED_ANSWER_GRACE_MS + 50).unref?.()
    return ms
  }

  private expel (peer: string, reason: string): void {
    if (this.admitted.delete(peer)) this.changed()
    this.unexpire(peer)
    this.refused.add(peer)
    if (this.refused.size > MAX_REFUSED) this.refused.delete(this.refused.values().next().value as string)
    if (!this.running || !this.connected(peer)) return
    // One line a minute per peer, with how many refusals it stands for: a peer on a trusted
    // host is not cooled down and may come back every second (issue 44: 36 lines in 23 s).
    const paced = this.logPacer.pace(peer, Date.now())
    if (paced !== undefined) this.init.log.warn({ peer, reason, ...(paced.refused > 1 ? { refusals: paced.refused } : {}) }, 'peer not admitted: disconnecting')
    this.init.libp2p.hangUp(peerIdOf(peer)).catch(() => {})
  }

  private connected (peer: string): boolean {
    try {
      return this.init.libp2p.getConnections(peerIdOf(peer)).length > 0
    } catch {
      return false
    }
  }
}
