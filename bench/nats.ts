/**
 * The brokered baseline of `npm run bench` (issue 15): a nats-server started on a free port of
 * 127.0.0.1 for the run, and each bench worker connected to it with the official Node client,
 * so the broadcast and request-reply workloads meet a broker on the same machine in the same
 * run. The server's CPU is counted with the workers' (it does the fan-out).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { procCpuMs } from './proc-cpu.js'
import { createServer } from 'node:net'

export interface NatsServer {
  url: string
  pid: number
  /** CPU time the server used so far, in ms (from /proc: user + system). */
  cpuMs: () => number
  stop: () => Promise<void>
}

/** Why the baseline cannot run here, or undefined when nats-server is on the PATH. */
export function natsMissing (): string | undefined {
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' })
  if (r.error !== undefined) return `nats-server not found (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): apt-get install nats-server`
  return undefined
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

let signalsHeld = false
/** SIGTERM or SIGINT to the bench: exit (status 128 + the signal's number), so 'exit' handlers run. */
function onStopSignal (): void {
  if (signalsHeld) return
  signalsHeld = true
  process.once('SIGTERM', () => { process.exit(143) })
  process.once('SIGINT', () => { process.exit(130) })
}

/** Start nats-server on a free port; resolves once it accepts connections. */
export async function startNats (): Promise<NatsServer> {
  const port = await freePort()
  // -D/-V off; max_payload stays the default 1 MiB, like agentmesh's maxMessageBytes.
  const child: ChildProcess = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr?.on('data', (b: Buffer) => { log += b.toString() })
  const ready = Date.now() + 10_000
  while (!log.includes('Server is ready')) {
    if (child.exitCode !== null || Date.now() > ready) {
      child.kill('SIGKILL')
      throw new Error(`nats-server did not start: ${log.slice(-500)}`)
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  const pid = child.pid as number
  // A bench ended by a signal sent to it alone (a supervisor's SIGTERM: its nats-server is not told)
  // or by an error takes the server with it: 'exit' handlers run on process.exit, and the signals
  // below are turned into one. Without it the server stayed behind, holding its port.
  const orphaned = (): void => { if (child.exitCode === null) child.kill('SIGKILL') }
  process.once('exit', orphaned)
  child.once('exit', () => { process.removeListener('exit', orphaned) })
  onStopSignal()
  return {
    url: `nats://127.0.0.1:${port}`,
    pid,
    cpuMs: () => procCpuMs(pid),
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 3_000))])
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }
}
