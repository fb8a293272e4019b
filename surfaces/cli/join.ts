import type { AgentNode } from '../../node/agent-node.js'
import { ConnectionError } from '../../protocols/core/errors.js'

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
    const causes = [...wanted].map(a => `${a}: ${failures.get(a)?.error.message ?? '?'}`)
    done()
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
  const done = (): void => {
    node.removeEventListener('bootstrap:error', onError)
    node.removeEventListener('mesh:foreign', onForeign)
    node.removeEventListener('peer:join', done)
  }
  if (wanted.size > 0) {
    node.addEventListener('bootstrap:error', onError)
    node.addEventListener('mesh:foreign', onForeign)
    node.addEventListener('peer:join', done)
  }
  return {
    signal: controller.signal,
    failures: () => [...failures].map(([address, f]) => `${address}: ${f.error.message}`)
  }
}
