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
 * bootstrap address has failed ATTEMPTS times while no agent is connected. A client that joined
 * stops watching: from then on its peers, not its bootstrap list, say whether it can work.
 */
export function watchBootstrap (node: AgentNode, addresses: string[]): AbortSignal {
  const controller = new AbortController()
  const wanted = new Set(addresses)
  const failures = new Map<string, { count: number, error: Error }>()
  const onError = (e: CustomEvent<{ address: string, error: Error }>): void => {
    const { address, error } = e.detail
    failures.set(address, { count: (failures.get(address)?.count ?? 0) + 1, error })
    if (node.peers().length > 0 || [...wanted].some(a => (failures.get(a)?.count ?? 0) < ATTEMPTS)) return
    const causes = [...wanted].map(a => `${a}: ${failures.get(a)?.error.message ?? '?'}`)
    done()
    controller.abort(new ConnectionError(`cannot reach the mesh: no bootstrap peer answered (${causes.join('; ')})`))
  }
  const done = (): void => {
    node.removeEventListener('bootstrap:error', onError)
    node.removeEventListener('peer:join', done)
  }
  if (wanted.size > 0) {
    node.addEventListener('bootstrap:error', onError)
    node.addEventListener('peer:join', done)
  }
  return controller.signal
}
