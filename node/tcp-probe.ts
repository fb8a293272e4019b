/**
 * Whether anything listens at a peer's TCP endpoints, asked with a bare connect closed at once:
 * how a voter tells its coordinator's process exited (node/member-connections.ts `peerLinks`).
 * A browser has no TCP sockets: its twin (tcp-probe.browser.ts) never tells an exit.
 */
import { connect } from 'node:net'

/**
 * Whether a TCP connection to every endpoint is refused (ECONNREFUSED: the host answered that
 * nothing listens there); false when there are none, or one connects, times out (`signal`) or
 * fails otherwise. A bare connect, closed at once: a libp2p dial would say less, since a
 * WebSocket dial's error keeps no code (Node 22's WebSocket reports "network error" whatever
 * happened).
 */
export async function refusedEverywhere (endpoints: Array<{ host: string, port: number }>, signal: AbortSignal): Promise<boolean> {
  if (endpoints.length === 0) return false
  const refused = async ({ host, port }: { host: string, port: number }): Promise<boolean> => await new Promise(resolve => {
    const socket = connect({ host, port })
    const done = (answer: boolean): void => { signal.removeEventListener('abort', abort); socket.destroy(); resolve(answer) }
    const abort = (): void => { done(false) }
    if (signal.aborted) return done(false)
    signal.addEventListener('abort', abort)
    socket.once('connect', () => { done(false) })
    // on, not once: an error after the answer (a reset as it closes) must find a listener.
    socket.on('error', (err: NodeJS.ErrnoException) => { done(err.code === 'ECONNREFUSED') })
  })
  return (await Promise.all(endpoints.map(refused))).every(Boolean)
}
