/**
 * A bench node in a process of its own, driven over IPC: `call(cmd, params)` sends
 * `{ id, cmd, ...params }` and resolves with the worker's `{ id, result }` (or rejects with its
 * `{ id, error }`). Separate processes, so each node has its own event loop as agents would.
 */
import { fork, type ChildProcess } from 'node:child_process'

export class ForkedWorker {
  readonly child: ChildProcess
  private next = 0
  private readonly waiting = new Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>()

  constructor (script: string, args: string[] = [], execArgv: string[] = []) {
    this.child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv })
    this.child.on('message', (m: any) => {
      const w = this.waiting.get(m.id)
      this.waiting.delete(m.id)
      if (m.error !== undefined) w?.reject(new Error(m.error)); else w?.resolve(m.result)
    })
  }

  async call (cmd: string, params: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<any> {
    const id = this.next++
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error(`${cmd} timed out`)) }, timeoutMs)
      this.waiting.set(id, { resolve: (v) => { clearTimeout(t); resolve(v) }, reject: (e) => { clearTimeout(t); reject(e) } })
      this.child.send({ id, cmd, ...params })
    })
  }

  /** Let the worker exit on its own (so a CPU profile gets written), then make sure it is gone. */
  async kill (): Promise<void> {
    if (this.child.exitCode === null) {
      await new Promise<void>(resolve => { const t = setTimeout(resolve, 5_000); this.child.once('exit', () => { clearTimeout(t); resolve() }) })
    }
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}
