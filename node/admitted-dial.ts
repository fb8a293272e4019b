/**
 * In a closed mesh a connection is only half of joining: after Noise the dialler shows its
 * credential in the card exchange, and a peer that refuses it (not of this mesh's owner, expired,
 * revoked) answers SEC001 and hangs up. libp2p's dial resolves as soon as Noise and yamux are up,
 * so without this wait `dial()` said "connected" to a peer that was about to refuse (measured:
 * resolved ~190 ms before the hang-up). This waits for the exchange's verdict.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { ConnectionError, NotAdmittedError } from '../protocols/core/errors.js'
import { deadline } from '../protocols/core/deadline.js'
import type { Membership } from '../protocols/discovery/membership.js'

/**
 * `AgentNode.dial`: the peer id dialled; in a closed mesh (`admission` given) once admitted.
 * ConnectionError (COM002) when it cannot be reached, NotAdmittedError (SEC001) when it refused.
 * The dial itself takes at most `dialTimeoutMs` within `signal` (libp2p's own cap on one address
 * is raised for the seeds' join, node/libp2p.ts).
 */
export async function dialPeer (
  libp2p: Libp2p, address: string, admission: { membership: Membership, timeoutMs: number } | undefined, signal?: AbortSignal, dialTimeoutMs?: number
): Promise<string> {
  const limit = dialTimeoutMs !== undefined ? deadline(dialTimeoutMs, signal) : undefined
  try {
    const peer = (await libp2p.dial(multiaddr(address), { signal: limit?.signal ?? signal }).finally(() => limit?.clear())).remotePeer.toString()
    if (admission !== undefined) await untilAdmitted(admission.membership, libp2p, peer, admission.timeoutMs, signal)
    return peer
  } catch (err) {
    if (err instanceof NotAdmittedError) throw err
    throw new ConnectionError(`cannot dial ${address}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Resolves once `peer` is a member or a client here (its card exchange with this node ended
 * well). Rejects with NotAdmittedError when the exchange is refused with SEC001 (either way
 * round), when the connection closes first (with the exchange's last error, if any), or when
 * there is no verdict within `timeoutMs` (this node's own admission timer hangs up on a peer
 * that never shows a credential before then: give it more than `security.admissionTimeoutMs`).
 */
export async function untilAdmitted (membership: Membership, libp2p: Libp2p, peer: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  if (membership.card(peer) !== undefined || membership.isClient(peer)) return
  if (libp2p.getConnections().every(c => c.remotePeer.toString() !== peer)) throw gone(peer)
  let last: Error | undefined
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer)
      clearInterval(poll)
      membership.removeEventListener('peer:join', onJoin)
      membership.removeEventListener('error', onError)
      libp2p.removeEventListener('peer:disconnect', onGone)
      signal?.removeEventListener('abort', onAbort)
      if (err === undefined) resolve()
      else reject(err)
    }
    const onJoin = (e: CustomEvent<{ peerId: string }>): void => { if (e.detail.peerId === peer) done() }
    const onError = (e: CustomEvent<{ error: Error, peer: string }>): void => {
      if (e.detail.peer !== peer) return
      last = e.detail.error
      // SEC001 is a verdict; another failure (a timeout, a reset) is retried by the membership's sweep.
      if ((last as { code?: string }).code === 'SEC001') done(new NotAdmittedError(`${peer} and this node did not admit each other: ${last.message}`, { cause: last }))
    }
    const onGone = (e: CustomEvent<PeerId>): void => { if (e.detail.toString() === peer) done(gone(peer, last)) }
    const onAbort = (): void => { done(signal?.reason as Error) }
    // A client's card makes no peer:join: it is looked for now and then.
    const poll = setInterval(() => { if (membership.isClient(peer)) done() }, 100)
    const timer = setTimeout(() => {
      done(new NotAdmittedError(`${peer}: no admission within ${timeoutMs} ms of connecting${last !== undefined ? ` (last card exchange error: ${last.message})` : ''}`))
    }, timeoutMs)
    membership.addEventListener('peer:join', onJoin)
    membership.addEventListener('error', onError)
    libp2p.addEventListener('peer:disconnect', onGone)
    signal?.addEventListener('abort', onAbort)
    if (signal?.aborted === true) onAbort()
  })
}

function gone (peer: string, last?: Error): NotAdmittedError {
  const why = last !== undefined ? `the card exchange failed: ${last.message}` : 'a credential refused on either side, revoked, or no agent of this mesh'
  return new NotAdmittedError(`${peer} disconnected before the card exchange admitted it (${why})`, last !== undefined ? { cause: last } : undefined)
}
