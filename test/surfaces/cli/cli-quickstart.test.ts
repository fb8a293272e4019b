// The README's "Quick start: nodes by hand", run as written: its commands with the printed peer
// id put in for <id>, in a directory of their own (the keys and credentials they make land
// there). Only the ports (free ones instead of 7001...) and the mesh (its own, without mDNS, so
// that no other node on this host joins) differ.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { copyFile, readFile, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CLI, DIST, Proc, uniqueMesh, waitFor, freePort, withTempDir } from '../../helpers.js'

/** Words of a shell line as sh would split them (enough for the README: single quotes only). */
function words (line: string): string[] {
  return (line.match(/'[^']*'|\S+/g) ?? []).map(w => w.replace(/^'(.*)'$/, '$1'))
}

test('the Quick start works as the README writes it: keys made, three closed nodes elect a coordinator; status, request and /health answer', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => { await quickStart(dir) })
})

async function quickStart (dir: string): Promise<void> {
  const readme = await readFile(join(DIST, '..', 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Quick start: nodes by hand'), readme.indexOf('## CLI'))
  const block = /```sh\n([^`]*)```/.exec(section)?.[1] ?? ''
  const lines = block.split('\n').map(l => l.trim()).filter(l => l.length > 0 && !l.startsWith('#'))
  assert.equal(lines[0], 'npm ci')
  const ports = new Map<string, number>()
  for (const m of block.matchAll(/(?:tcp\/|127\.0\.0\.1:)(\d{4})\b/g)) if (!ports.has(m[1])) ports.set(m[1], await freePort())
  const mesh = uniqueMesh()
  const readmeMesh = /--mesh (\S+)/.exec(block)?.[1] ?? ''
  assert.ok(readmeMesh !== '', 'the Quick start names its mesh')
  const cli = 'node dist/surfaces/cli/main.js '
  const procs: Proc[] = []
  let id: string | undefined
  const substitute = (text: string): string => {
    for (const [from, to] of ports) text = text.replaceAll(`tcp/${from}`, `tcp/${to}`).replaceAll(`127.0.0.1:${from}`, `127.0.0.1:${to}`)
    text = text.replaceAll(`--mesh ${readmeMesh}`, `--mesh ${mesh}`)
    return id !== undefined ? text.replaceAll('<id>', id) : text
  }
  const args = (line: string): string[] => words(substitute(line.slice(cli.length)))
  try {
    // What comes before the first start: the keys and credentials, run as a shell script as written.
    const raw = block.split('\n')
    const setup = raw.slice(raw.findIndex(l => l.trim() === 'npm ci') + 1, raw.findIndex(l => l.startsWith(cli + 'start '))).join('\n')
    assert.match(setup, /mesh init/)
    const made = await sh(substitute(setup).replaceAll(cli, `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} `), dir)
    assert.equal(made.code, 0, made.stderr)
    assert.equal((await stat(join(dir, 'mesh.psk'))).mode & 0o777, 0o600, 'the mesh key is the owner\'s only')
    await keysIgnored(dir)
    const starts = lines.filter(l => l.startsWith(cli + 'start '))
    assert.equal(starts.length, 3, 'three nodes')
    for (const line of starts) assert.match(line, /--credential \S+ --psk \S+/, 'closed, with the mesh key')
    // a1 first, for the peer id the others need; then a2 and a3 at once, as two terminals would.
    const started = (line: string): Proc => { const p = new Proc([CLI, ...args(line), '--no-mdns'], {}, dir); procs.push(p); return p }
    const printsId = async (p: Proc): Promise<void> => { await waitForLine(p, l => l.startsWith('  peer id  '), 'the node to print its peer id', 30_000) }
    const a1 = started(starts[0])
    await printsId(a1)
    id = a1.lines.find(l => l.startsWith('  peer id  '))?.slice('  peer id  '.length)
    await Promise.all(starts.slice(1).map(started).map(printsId))
    assert.match(id ?? '', /^12D3Koo/)
    // Each node says who coordinates once the third has joined.
    for (const p of procs) await waitForLine(p, l => /^coordinator a\d /.test(l), 'a coordinator line', 30_000)

    const status = lines.find(l => l.startsWith(cli + 'status ')) as string
    const request = lines.find(l => l.startsWith(cli + 'request ')) as string
    // status and request from "a fourth" terminal: independent of each other, run at once.
    const st = new Proc([CLI, ...args(status)], {}, dir)
    const req = new Proc([CLI, ...args(request), '--no-mdns'], {}, dir)
    procs.push(st, req)
    assert.equal(await st.exited(30_000), 0, st.stderr)
    for (const name of ['a1', 'a2', 'a3']) assert.ok(st.lines.some(l => l.startsWith(`${name} `)), st.lines.join('\n'))
    assert.ok(st.lines.some(l => /\byes\s+12D3Koo/.test(l)), 'a row marked as the coordinator')

    assert.equal(await req.exited(30_000), 0, req.stderr)
    assert.deepEqual(JSON.parse(req.lines.join('\n')), { hello: 'mesh' })

    const curl = words(lines.find(l => l.startsWith('curl ')) as string)[1]
    const url = `http://${substitute(curl)}`
    const health: any = await (await fetch(url)).json()
    assert.equal(health.name, 'a1')
    assert.deepEqual(health.peers.map((p: any) => p.name).sort(), ['a2', 'a3'])
    assert.equal(health.security.mode, 'closed')
    assert.deepEqual(health.warnings, [])
  } finally {
    await Promise.all(procs.map(async p => { await p.stop() }))
  }
}

async function sh (script: string, cwd: string): Promise<{ code: number, stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
  return await new Promise(resolve => {
    execFile('sh', ['-e', '-c', script], { cwd, env, timeout: 60_000 }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stderr })
    })
  })
}

/**
 * Run in a checkout, the quick start leaves keys in it (issue 44): each file it wrote is one the
 * repository's .gitignore keeps out of `git add .`. Asked of git itself, in a scratch repository
 * of the quick start's directory with that .gitignore.
 */
async function keysIgnored (dir: string): Promise<void> {
  await copyFile(join(DIST, '..', '.gitignore'), join(dir, '.gitignore'))
  const git = async (...args: string[]): Promise<string> => await new Promise((resolve, reject) => {
    execFile('git', ['-C', dir, ...args], { timeout: 30_000 }, (err, stdout, stderr) => { if (err !== null) reject(new Error(`git ${args.join(' ')}: ${stderr}`, { cause: err })); else resolve(stdout) })
  })
  await git('init', '-q')
  const written = (await readdir(dir)).filter(f => f !== '.git' && f !== '.gitignore')
  assert.ok(written.includes('mesh-owner.json') && written.some(f => f.endsWith('.cred.json')), written.join(' '))
  const shown = (await git('status', '--porcelain', '--untracked-files=all')).split('\n').filter(l => l.length > 0)
  assert.deepEqual(shown, ['?? .gitignore'], `written by the quick start: ${written.join(' ')}`)
  await rm(join(dir, '.git'), { recursive: true })
}

/** The text output is what the README shows, so it is what is read here (not --json). */
async function waitForLine (p: Proc, match: (l: string) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(() => p.lines.some(match) || p.child.exitCode !== null, what, timeoutMs)
  assert.ok(p.lines.some(match), `exited (${p.child.exitCode}) before ${what}: ${p.stderr}`)
}
