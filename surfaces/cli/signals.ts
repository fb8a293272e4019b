/**
 * SIGINT and SIGTERM for the commands that run until stopped, from the process's first moments.
 *
 * main.ts listens before it loads the command: the modules take half a second and more
 * (`agentmesh start` began its node 0.65 s after it was spawned, on a 2-core machine), and a
 * signal with no listener ends a process with 130 or 143, or, when it is a container's first
 * process (PID 1), is ignored: `docker stop` waited its 10 s, then killed. Until the command
 * takes the signals over (common.ts onSignals, before it reads its config), a signal exits 0 at
 * once: nothing has started, so there is nothing to stop. What remains is Node's own boot, about
 * 0.1 s before any script runs.
 *
 * Imports nothing, and stays outside the CLI's bundle (tools/bundle-cli.ts): main.ts and the
 * command must share this one module, whichever way the command is loaded.
 */

/** The commands that run until a signal stops them (or end on their own: `sub --count`, `mcp` when its host closes stdin). */
export const SERVING: ReadonlySet<string> = new Set(['start', 'sub', 'mcp'])

let taken: ((signal: NodeJS.Signals) => void) | undefined
let listening = false

function listen (): void {
  if (listening) return
  listening = true
  const on = (signal: NodeJS.Signals): void => {
    if (taken !== undefined) taken(signal)
    else process.exit(0)
  }
  process.on('SIGINT', on)
  process.on('SIGTERM', on)
}

/** From now on, a SIGINT or SIGTERM exits 0, until a command takes them (`takeSignals`). */
export function exitOnSignalsWhileLoading (): void {
  listen()
}

/** Every SIGINT and SIGTERM from now on goes to `handler`, and no longer ends the process by itself. */
export function takeSignals (handler: (signal: NodeJS.Signals) => void): void {
  taken = handler
  listen()
}
