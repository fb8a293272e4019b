import type { AgentNode } from '../../node/agent-node.js'
import { ConnectionError, NotAdmittedError } from '../../protocols/core/errors.js'

/**
 * Failed dials per bootstrap address before a client gives up. The second try comes a quarter to
 * half a second after the first (bootstrap's initial delay), so one slow handshake does not fail
 * a command, while a refused connection or a wrong peer id is said within a second instead of
 * after the command's whole wait.
 */
const ATTEMPTS = 2

/**
 * A signal that aborts, with a ConnectionError naming each address and its error, once every
 * bootstrap address has failed ATTEMPTS times, or answered from another mesh, while no agent is
 * connected. A client that joined stops watching: from then on its peers, not its bootstrap
 * list, say whether it can work. A peer of another mesh is given up on at its first answer: its
 * card said its mesh, and asking again would not change it (issue 44: 11 s, then "agents seen: none").
 * So is one that refused this client's card (SEC001: a closed mesh, no credential it admits),
 * and when all refused, the abort is that refusal, not a ConnectionError.
 */
export interface BootstrapWatch {
  /** Aborted, with a ConnectionError saying why, once every bootstrap peer failed and no agent is connected. */
  signal: AbortSignal
  /**
   * Each bootstrap address that failed so far, with its last error: what a command that gives up
   * before the watch does (a name not found in time) says of the mesh it could not see.
   */
  failures: () => string[]
}

export function watchBootstrap (node: AgentNode, addresses: string[]): BootstrapWatch {
  const controller = new AbortController()
  const wanted = new Set(addresses)
  const failures = new Map<string, { count: number, error: Error, final?: boolean }>()
  const check = (): void => {
    if (node.peers().length > 0 || [...wanted].some(a => (failures.get(a)?.count ?? 0) < ATTEMPTS)) return
    const errors = [...wanted].map(a => failures.get(a)?.error)
    done()
    // Every bootstrap peer refused this client's card: the mesh answered, and said no (SEC001).
    if (errors.every(e => e instanceof NotAdmittedError)) {
      controller.abort(errors.length === 1 ? errors[0] : new NotAdmittedError(`the mesh refused this client: ${errors.map(e => e?.message).join('; ')}`))
      return
    }
    const causes = [...wanted].map(a => `${a}: ${failures.get(a)?.error.message ?? '?'}`)
    controller.abort(new ConnectionError(`cannot reach the mesh: no bootstrap peer answered (${causes.join('; ')})`))
  }
  const onError = (e: CustomEvent<{ address: string, error: Error }>): void => {
    const { address, error } = e.detail
    const was = failures.get(address)
    if (was?.final === true) return
    failures.set(address, { count: (was?.count ?? 0) + 1, error })
    check()
  }
  const onForeign = (e: CustomEvent<{ peer: string, mesh: string, address?: string }>): void => {
    const { mesh, address } = e.detail
    if (address === undefined || !wanted.has(address)) return
    const error = new ConnectionError(`the peer at ${address} is in mesh "${mesh}", not "${node.config.mesh}" (pass --mesh ${mesh})`)
    failures.set(address, { count: ATTEMPTS, error, final: true })
    check()
  }
  // A bootstrap peer that refused this client's card (SEC001) will refuse it again: said at once.
  const onRefused = (e: CustomEvent<{ peer: string, error: Error, address?: string }>): void => {
    const { error, address } = e.detail
    if (address === undefined || !wanted.has(address)) return
    const refused = new NotAdmittedError(`the peer at ${address} refused this client: ${error.message}` +
      (node.security.credential === undefined ? ' (its mesh is closed: pass --identity and --credential, or AGENTMESH_CREDENTIAL; docs/security.md)' : ''), { cause: error })
    failures.set(address, { count: ATTEMPTS, error: refused, final: true })
    check()
  }
  const done = (): void => {
    node.removeEventListener('bootstrap:error', onError)
    node.removeEventListener('mesh:foreign', onForeign)
    node.removeEventListener('mesh:refused', onRefused)
    node.removeEventListener('peer:join', done)
  }
  if (wanted.size > 0) {
    node.addEventListener('bootstrap:error', onError)
    node.addEventListener('mesh:foreign', onForeign)
    node.addEventListener('mesh:refused', onRefused)
    node.addEventListener('peer:join', done)
  }
  return {
    signal: controller.signal,
    failures: () => [...failures].map(([address, f]) => `${address}: ${f.error.message}`)
  }
}
