/**
 * The load generator of bench/gateway.ts: HTTP/1.1 over raw keep-alive sockets, each connection
 * with `depth` requests in flight (1: the next request once the answer is in; more: pipelined),
 * every request's bytes built once, answers read by their Content-Length.
 *
 * Why not node:http's client: it spends 50-80 µs of CPU per request (its agent's socket pool,
 * a ClientRequest and an IncomingMessage each time), as much as a third of what the gateway
 * spends, on the same two cores: a bench limited by its own client measures the client. This
 * one spends a few µs, as load generators do (autocannon, wrk); both are in the bench's table.
 */
import { connect } from 'node:net'

export interface LoadTarget {
  host: string
  port: number
  method: 'GET' | 'POST'
  path: string
  body?: string
}

const HEAD_END = Buffer.from('\r\n\r\n')

/** Requests answered per second by `connections` keep-alive connections for `ms`; a status other than 200 fails the run. */
export async function loadRate (target: LoadTarget, connections: number, ms: number, depth = 1): Promise<number> {
  const body = target.body ?? ''
  const request = Buffer.from(
    `${target.method} ${target.path} HTTP/1.1\r\nhost: ${target.host}:${target.port}\r\nconnection: keep-alive\r\n` +
    (target.method === 'POST' ? `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` : '') +
    `\r\n${body}`)
  const t0 = performance.now()
  const end = t0 + ms
  const counts = await Promise.all(Array.from({ length: connections }, async () => await connection(target, request, end, depth)))
  return Math.round(counts.reduce((a, b) => a + b, 0) / ((performance.now() - t0) / 1000))
}

/** One connection's run: how many answers it read before `end`. */
async function connection (target: LoadTarget, request: Buffer, end: number, depth: number): Promise<number> {
  const socket = connect(target.port, target.host)
  socket.setNoDelay(true)
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve).once('error', reject) })
  let done = 0
  let inFlight = 0
  let buffered: Buffer = Buffer.alloc(0)
  try {
    return await new Promise<number>((resolve, reject) => {
      const send = (): void => {
        let n = 0
        while (inFlight < depth && performance.now() < end) { inFlight++; n++ }
        if (n > 0) socket.write(n === 1 ? request : Buffer.concat(Array.from({ length: n }, () => request)))
        else if (inFlight === 0) resolve(done)
      }
      socket.on('error', reject)
      socket.on('close', () => { reject(new Error(`connection closed after ${done} answers`)) })
      socket.on('data', (chunk: Buffer) => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
        try {
          for (let used = answer(buffered); used > 0; used = answer(buffered)) {
            buffered = buffered.subarray(used)
            inFlight--
            done++
          }
        } catch (err) { reject(err); return }
        send()
      })
      send()
    })
  } finally {
    socket.destroy()
  }
}

/** The bytes of the first whole answer in `buf` (0: not all there yet); throws on a status other than 200. */
function answer (buf: Buffer): number {
  const head = buf.indexOf(HEAD_END)
  if (head < 0) return 0
  const text = buf.toString('latin1', 0, head)
  const status = Number(text.slice(9, 12))
  const length = /\r\ncontent-length: *(\d+)/i.exec(text)
  if (length === null) throw new Error(`an answer without content-length: ${text.slice(0, 200)}`)
  const total = head + 4 + Number(length[1])
  if (buf.length < total) return 0
  if (status !== 200) throw new Error(`HTTP ${status}: ${buf.toString('utf8', head + 4, total).slice(0, 300)}`)
  return total
}
