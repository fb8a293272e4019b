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
import type { Membership } from '../discovery/membership.js'

/**
 * `AgentNode.dial`: the peer id dialled; in a closed mesh (`admission` given) once admitted.
 * ConnectionError (COM001) when it cannot be reached, NotAdmittedError (SEC001) when it refused.
 */
export async function dialPeer (
  libp2p: Libp2p, address: string, admission: { membership: Membership, timeoutMs: number } | undefined, signal?: AbortSignal
): Promise<string> {
  try {
    const peer = (await libp2p.dial(multiaddr(address), { signal })).remotePeer.toString()
    if (admission !== undefined) await untilAdmitted(admission.membership, libp2p, peer, admission.timeoutMs, signal)
    return peer
  } catch (err) {
    if (err instanceof NotAdmittedError) throw err
    throw new ConnectionError(`cannot dial ${address}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Resolves once `peer` is a member or a client here (the exchange admitted both ways), or after
 * `timeoutMs` while still connected (a peer that is no agent, or an exchange still running: it
 * is retried in the background). Rejects with NotAdmittedError when the exchange is refused
 * (either way round) or the peer hangs up first.
 */
export async function untilAdmitted (membership: Membership, libp2p: Libp2p, peer: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  if (membership.get(peer) !== undefined || membership.isClient(peer)) return
  if (libp2p.getConnections().every(c => c.remotePeer.toString() !== peer)) throw gone(peer)
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
      const { error } = e.detail
      if (e.detail.peer !== peer || (error as { code?: string }).code !== 'SEC001') return // a timeout is retried, not a verdict
      done(new NotAdmittedError(`${peer} and this node did not admit each other: ${error.message}`, { cause: error }))
    }
    const onGone = (e: CustomEvent<PeerId>): void => {
      if (e.detail.toString() !== peer) return
      done(gone(peer))
    }
    const onAbort = (): void => { done(signal?.reason as Error) }
    // A client's card makes no peer:join: it is looked for now and then.
    const poll = setInterval(() => { if (membership.isClient(peer)) done() }, 100)
    const timer = setTimeout(() => { done() }, timeoutMs)
    membership.addEventListener('peer:join', onJoin)
    membership.addEventListener('error', onError)
    libp2p.addEventListener('peer:disconnect', onGone)
    signal?.addEventListener('abort', onAbort)
    if (signal?.aborted === true) onAbort()
  })
}

function gone (peer: string): NotAdmittedError {
  return new NotAdmittedError(`${peer} hung up before admitting this node (its credential refused there, or revoked)`)
}
