// The README's "Quick start: nodes by hand", run as written: its commands with the printed peer
// id put in for <id>. Only the ports (free ones instead of 7001...) and the mesh (its own, without
// mDNS, so that no other node on this host joins) differ.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CLI, DIST, Proc, uniqueMesh, waitFor, freePort } from './helpers.js'

/** Words of a shell line as sh would split them (enough for the README: single quotes only). */
function words (line: string): string[] {
  return (line.match(/'[^']*'|\S+/g) ?? []).map(w => w.replace(/^'(.*)'$/, '$1'))
}

test('the Quick start works as the README writes it: three nodes elect a coordinator; status, request and /health answer', async () => {
  const readme = await readFile(join(DIST, '..', 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Quick start: nodes by hand'), readme.indexOf('## CLI'))
  const block = /```sh\n([^`]*)```/.exec(section)?.[1] ?? ''
  const lines = block.split('\n').map(l => l.trim()).filter(l => l.length > 0 && !l.startsWith('#'))
  assert.equal(lines[0], 'npm ci')
  const ports = new Map<string, number>()
  for (const m of block.matchAll(/(?:tcp\/|127\.0\.0\.1:)(\d{4})\b/g)) if (!ports.has(m[1])) ports.set(m[1], await freePort())
  const mesh = uniqueMesh()
  const cli = 'node dist/node/cli/main.js '
  const procs: Proc[] = []
  let id: string | undefined
  const substitute = (text: string): string => {
    for (const [from, to] of ports) text = text.replaceAll(`tcp/${from}`, `tcp/${to}`).replaceAll(`127.0.0.1:${from}`, `127.0.0.1:${to}`)
    return id !== undefined ? text.replaceAll('<id>', id) : text
  }
  const args = (line: string): string[] => words(substitute(line.slice(cli.length)))
  try {
    const starts = lines.filter(l => l.startsWith(cli + 'start '))
    assert.equal(starts.length, 3, 'three nodes')
    for (const line of starts) {
      const p = new Proc([CLI, ...args(line), '--mesh', mesh, '--no-mdns'])
      procs.push(p)
      await waitForLine(p, l => l.startsWith('  peer id  '), 'the node to print its peer id')
      id ??= p.lines.find(l => l.startsWith('  peer id  '))?.slice('  peer id  '.length)
    }
    assert.match(id ?? '', /^12D3Koo/)
    // Each node says who coordinates once the third has joined.
    for (const p of procs) await waitForLine(p, l => /^coordinator a\d /.test(l), 'a coordinator line', 30_000)

    const status = lines.find(l => l.startsWith(cli + 'status ')) as string
    const st = new Proc([CLI, ...args(status)])
    assert.equal(await st.exited(), 0, st.stderr)
    for (const name of ['a1', 'a2', 'a3']) assert.ok(st.lines.some(l => l.startsWith(`${name} `)), st.lines.join('\n'))
    assert.ok(st.lines.some(l => /\byes\s+12D3Koo/.test(l)), 'a row marked as the coordinator')

    const request = lines.find(l => l.startsWith(cli + 'request ')) as string
    const req = new Proc([CLI, ...args(request), '--mesh', mesh, '--no-mdns'])
    assert.equal(await req.exited(), 0, req.stderr)
    assert.deepEqual(JSON.parse(req.lines.join('\n')), { hello: 'mesh' })

    const curl = words(lines.find(l => l.startsWith('curl ')) as string)[1]
    const url = `http://${substitute(curl)}`
    const health: any = await (await fetch(url)).json()
    assert.equal(health.name, 'a1')
    assert.deepEqual(health.peers.map((p: any) => p.name).sort(), ['a2', 'a3'])
  } finally {
    await Promise.all(procs.map(async p => { await p.stop() }))
  }
})

/** The text output is what the README shows, so it is what is read here (not --json). */
async function waitForLine (p: Proc, match: (l: string) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(() => p.lines.some(match) || p.child.exitCode !== null, what, timeoutMs)
  assert.ok(p.lines.some(match), `exited (${p.child.exitCode}) before ${what}: ${p.stderr}`)
}
