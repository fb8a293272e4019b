/**
 * Requests read from many client sockets in one turn of the event loop go into the mesh together.
 *
 * Each HTTP client's request arrives on its own socket, and Node runs the microtasks after each
 * socket's callback: the rpc channel, which writes what was queued in one tick as one frame
 * (protocols/rpc/channel.ts), saw one request per tick, and each became a Noise frame, a yamux
 * frame and two or three socket writes of its own, on the gateway and again for the agent's
 * answer. Waiting for the check phase (setImmediate, after every socket that was readable has
 * been read) before going into the mesh lets the requests of that poll phase leave as one write;
 * the agent answers them as one too. What it costs a request alone is the rest of that phase
 * (docs/gateway.md, "Figures", has both).
 */
let waiting: Promise<void> | undefined
let enabled = true

/** Resolves in the check phase of this turn: every caller of this turn resumes in one tick. */
export async function nextTurn (): Promise<void> {
  if (!enabled) return
  waiting ??= new Promise<void>(resolve => {
    setImmediate(() => { waiting = undefined; resolve() })
  })
  await waiting
}

/** Turns the coalescing off (or on again): bench/gateway.ts measures both in one run. */
export function coalesceRequests (on: boolean): void { enabled = on }
