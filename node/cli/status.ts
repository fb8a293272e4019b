import { Command } from 'commander'
import { fail, report } from './common.js'

interface MeshView {
  nodes: Array<{ peerId: string, name: string, roles: string[], ageMs: number, self: boolean }>
  edges: Array<{ a: string, b: string, rate: number }>
  ageMs: number
}
interface PeerView { peerId: string, name: string, connections: Array<{ rttMs: number | null }> }

/** One row per agent of the mesh, as the node at `url` sees it. */
export async function meshTable (url: string, token?: string): Promise<Array<Record<string, string | number>>> {
  const headers: Record<string, string> = token !== undefined ? { authorization: `Bearer ${token}` } : {}
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url.replace(/\/$/, '')}${path}`, { headers, signal: AbortSignal.timeout(5_000) })
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}${res.status === 401 ? ' (give --token)' : ''}`)
    return await res.json() as T
  }
  const [mesh, peers] = await Promise.all([get<MeshView>('/mesh'), get<PeerView[]>('/peers')])
  const rtt = new Map(peers.map(p => [p.peerId, p.connections.map(c => c.rttMs).find(r => typeof r === 'number')]))
  return mesh.nodes
    .sort((a, b) => (Number(b.self) - Number(a.self)) || a.name.localeCompare(b.name))
    .map(n => {
      const links = mesh.edges.filter(e => e.a === n.peerId || e.b === n.peerId)
      const r = rtt.get(n.peerId)
      return {
        agent: n.self ? `${n.name} *` : n.name,
        roles: n.roles.join(','),
        peers: links.length,
        'rtt ms': n.self ? '-' : (typeof r === 'number' ? r : '?'),
        'msgs/s': Math.round(links.reduce((s, e) => s + e.rate, 0) * 10) / 10,
        'seen s ago': Math.round(n.ageMs / 100) / 10,
        'peer id': n.peerId
      }
    })
}

function render (rows: Array<Record<string, string | number>>): string {
  if (rows.length === 0) return '(no agents)\n'
  const cols = Object.keys(rows[0])
  const width = cols.map(c => Math.max(c.length, ...rows.map(r => String(r[c]).length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(width[i])).join('  ').trimEnd()
  return [line(cols), line(width.map(w => '-'.repeat(w))), ...rows.map(r => line(cols.map(c => String(r[c]))))].join('\n') + '\n'
}

export function statusCommand (): Command {
  return new Command('status')
    .description('print the mesh as a table, as one node\'s debug endpoint sees it (* marks that node)')
    .argument('<debug-url>', 'e.g. http://127.0.0.1:8001')
    .option('--token <token>', 'bearer token of the debug endpoint')
    .option('--watch [seconds]', 'refresh every few seconds (default 2) until interrupted')
    .option('--json', 'print the rows as one JSON array')
    .action(async (url: string, o) => {
      try {
        if (!/^https?:\/\//.test(url)) fail(`expected a debug URL such as http://127.0.0.1:8001, got "${url}"`)
        if (o.watch === undefined) {
          const rows = await meshTable(url, o.token)
          process.stdout.write(o.json === true ? JSON.stringify(rows) + '\n' : render(rows))
          return
        }
        const every = typeof o.watch === 'string' ? Number(o.watch) * 1000 : 2_000
        process.on('SIGINT', () => process.exit(0))
        while (true) {
          let out: string
          try {
            out = render(await meshTable(url, o.token))
          } catch (err) {
            out = `cannot reach ${url}: ${(err as Error).message}\n`
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
