import { Command } from 'commander'
import { fail, report } from './common.js'

interface MeshView {
  nodes: Array<{ peerId: string, name: string, roles: string[], ageMs: number, self: boolean }>
  edges: Array<{ a: string, b: string, rate: number }>
  ageMs: number
  /** The offset of /mesh's next page (null after the last; absent from an endpoint that does not page). */
  nextOffset?: number | null
}
interface PeerView { peerId: string, name: string, connections: Array<{ rttMs: number | null }> }
interface CoordinatorView { term: number, leader?: string, leaderName?: string, reason?: string | null }

/** One agent as the node asked sees it; the field names are those of `status --json`. */
export interface AgentRow {
  name: string
  peerId: string
  roles: string[]
  /** Links to other agents on the mesh map. */
  peers: number
  /** Round trip from the node asked; null for itself, or when not measured yet. */
  rttMs: number | null
  msgsPerSec: number
  seenSecondsAgo: number
  /** The coordinator in office, as the node asked knows it. */
  coordinator: boolean
  /** The node asked. */
  self: boolean
}

export interface MeshStatus { rows: AgentRow[], coordinator: CoordinatorView }

/** `host:port` (as `start --debug` takes it) or a URL. */
export function debugUrl (text: string): string {
  if (/^https?:\/\//.test(text)) return text.replace(/\/$/, '')
  if (/^[^/\s]+:\d+$/.test(text)) return `http://${text}`
  fail(`expected a debug endpoint such as 127.0.0.1:8001 or http://127.0.0.1:8001, got "${text}"`)
}

/** The mesh as the node at `url` sees it: one row per agent, itself first. */
export async function meshStatus (url: string, token?: string): Promise<MeshStatus> {
  const headers: Record<string, string> = token !== undefined ? { authorization: `Bearer ${token}` } : {}
  const get = async <T>(path: string): Promise<T> => {
    let res: Response
    try {
      res = await fetch(`${url}${path}`, { headers, signal: AbortSignal.timeout(5_000) })
    } catch (err) {
      // fetch says only "fetch failed"; the reason (ECONNREFUSED, a timeout) is its cause.
      const e = err as Error & { cause?: Error }
      throw new Error(`cannot reach ${url}: ${e.cause?.message ?? e.message}`)
    }
    if (!res.ok) throw new Error(`${url}${path}: HTTP ${res.status}${res.status === 401 ? ' (give --token)' : ''}`)
    return await res.json() as T
  }
  // /mesh comes in pages (at most 500 agents each): every page, then the links of all of them.
  const allPages = async (): Promise<MeshView> => {
    const first = await get<MeshView>('/mesh?limit=500')
    for (let page = first; typeof page.nextOffset === 'number';) {
      page = await get<MeshView>(`/mesh?limit=500&offset=${page.nextOffset}`)
      first.nodes.push(...page.nodes)
      first.edges.push(...page.edges)
    }
    return first
  }
  const [mesh, peers, coordinator] = await Promise.all([allPages(), get<PeerView[]>('/peers'), get<CoordinatorView>('/coordinator')])
  const rtt = new Map(peers.map(p => [p.peerId, p.connections.map(c => c.rttMs).find(r => typeof r === 'number')]))
  const rows = mesh.nodes
    .sort((a, b) => (Number(b.self) - Number(a.self)) || a.name.localeCompare(b.name))
    .map(n => {
      const links = mesh.edges.filter(e => e.a === n.peerId || e.b === n.peerId)
      const r = rtt.get(n.peerId)
      return {
        name: n.name,
        peerId: n.peerId,
        roles: n.roles,
        peers: links.length,
        rttMs: !n.self && typeof r === 'number' ? r : null,
        msgsPerSec: Math.round(links.reduce((s, e) => s + e.rate, 0) * 10) / 10,
        seenSecondsAgo: Math.round(n.ageMs / 100) / 10,
        coordinator: coordinator.leader === n.peerId,
        self: n.self
      }
    })
  return { rows, coordinator }
}

/** A line that says whose view the table is, and who coordinates, then the table. */
export function render ({ rows, coordinator: c }: MeshStatus): string {
  if (rows.length === 0) return '(no agents)\n'
  const self = rows.find(r => r.self)
  const who = c.leader !== undefined
    ? `coordinator ${c.leaderName ?? c.leader} (term ${c.term})`
    : `no coordinator${typeof c.reason === 'string' ? `: ${c.reason}` : ` (term ${c.term})`}`
  const head = `as ${self?.name ?? 'the node asked'} sees it (first row); ${who}`
  const cells = rows.map(r => ({
    agent: r.name,
    roles: r.roles.join(','),
    peers: String(r.peers),
    'rtt ms': r.self ? '-' : r.rttMs === null ? '?' : String(r.rttMs),
    'msgs/s': String(r.msgsPerSec),
    'seen s ago': String(r.seenSecondsAgo),
    coordinator: r.coordinator ? 'yes' : '',
    'peer id': r.peerId
  }))
  const cols = Object.keys(cells[0]) as Array<keyof typeof cells[0]>
  const width = cols.map(c => Math.max(c.length, ...cells.map(r => r[c].length)))
  const line = (texts: string[]): string => texts.map((t, i) => t.padEnd(width[i])).join('  ').trimEnd()
  return [head, line(cols), line(width.map(w => '-'.repeat(w))), ...cells.map(r => line(cols.map(c => r[c])))].join('\n') + '\n'
}

export function statusCommand (): Command {
  return new Command('status')
    .description('print the mesh as a table, as one node\'s debug endpoint sees it (that node is the first row)')
    .argument('<debug>', 'the node\'s debug endpoint: host:port as given to start --debug, or a URL, e.g. 127.0.0.1:8001')
    .option('--token <token>', 'bearer token of the debug endpoint')
    .option('--watch [seconds]', 'refresh every few seconds (default 2) until interrupted')
    .option('--json', 'print the rows as one JSON array: name, peerId, roles, peers, rttMs, msgsPerSec, seenSecondsAgo, coordinator, self')
    .action(async (where: string, o) => {
      try {
        const url = debugUrl(where)
        if (o.watch === undefined) {
          const status = await meshStatus(url, o.token)
          process.stdout.write(o.json === true ? JSON.stringify(status.rows) + '\n' : render(status))
          return
        }
        const every = typeof o.watch === 'string' ? Number(o.watch) * 1000 : 2_000
        process.on('SIGINT', () => process.exit(0))
        while (true) {
          let out: string
          try {
            out = render(await meshStatus(url, o.token))
          } catch (err) {
            out = `${(err as Error).message}\n`
          }
          // Clear the screen and redraw, like watch(1).
          process.stdout.write(`\x1b[2J\x1b[H${new Date().toISOString()}  ${url}\n\n${out}`)
          await new Promise(resolve => setTimeout(resolve, every))
        }
      } catch (err) {
        report(err)
      }
    })
}
