// `agentmesh credential issue` and `revoke`: what the mesh owner signs with its key file
// (agentmesh mesh init). Both write files the agents are given; neither talks to the mesh.
import { Command } from 'commander'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { issueCredential, PeerIdString } from '../../protocols/admission/credential.js'
import { signRevocations, verifyRevocations } from '../../protocols/admission/revocation.js'
import { MAX_CREDENTIAL_TTL_MS } from '../../protocols/admission/constants.js'
import { fail, list, report } from './common.js'
import { readOwner } from './mesh.js'

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** "30d", "12h", "90m", "45s": a duration in ms. */
export function parseTtl (text: string): number {
  const m = /^(\d+)([smhd])$/.exec(text)
  if (m === null) fail(`--ttl: expected a number and a unit (s, m, h, d), e.g. 30d; got "${text}"`)
  return Number(m[1]) * UNITS[m[2]]
}

async function peerOf (o: { peer?: string, identity?: string }): Promise<string> {
  if ((o.peer === undefined) === (o.identity === undefined)) fail('give either --peer <peer id> or --identity <file>')
  let id = o.peer
  if (o.identity !== undefined) {
    try {
      id = String(JSON.parse(await readFile(o.identity, 'utf8')).id)
    } catch (err) {
      fail(`cannot read the identity file ${o.identity}: ${(err as Error).message}`)
    }
  }
  const ok = PeerIdString.safeParse(id)
  if (!ok.success) fail(`not a peer id: ${String(id)}`)
  return ok.data
}

/** Write through a temporary file: a node watching the file never reads half of it. */
async function writeAtomic (path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, text, { mode: 0o644 })
  await rename(tmp, path)
}

/**
 * What a credential file about to be overwritten held, when that is another peer's or another
 * mesh's credential: a renewal overwrites its own file silently, but the README's Security
 * section once replaced the quick start's a1.cred.json (mesh "try") with mesh "prod"'s without a
 * word (issue 44). Undefined for no file, the same peer and mesh, or a file that is no credential.
 */
async function replacedCredential (path: string, mesh: string, subject: string): Promise<string | undefined> {
  let old: { mesh?: unknown, subject?: unknown }
  try {
    old = JSON.parse(await readFile(path, 'utf8'))
  } catch {
    return undefined
  }
  if (typeof old?.mesh !== 'string' || typeof old.subject !== 'string') return undefined
  if (old.mesh === mesh && old.subject === subject) return undefined
  return `a credential of ${old.subject === subject ? 'the same peer' : old.subject} in mesh "${old.mesh}"`
}

function issue (): Command {
  return new Command('issue')
    .description('sign a credential binding a peer id to roles and capabilities until it expires')
    .requiredOption('--owner <file>', 'mesh owner key file (agentmesh mesh init)')
    .option('--peer <peer id>', 'the agent\'s peer id (agentmesh id shows it)')
    .option('--identity <file>', 'or the agent\'s identity file, to read its peer id from')
    .option('--roles <roles>', 'roles granted (repeat or comma-separate); "coordinator" makes it eligible to vote', list)
    .option('--capabilities <caps>', 'capabilities granted (repeat or comma-separate)', list)
    .option('--ttl <duration>', 'how long it is valid: 30d, 12h, 90m (at most 366d)', '30d')
    .option('--out <file>', 'credential file to write (default: print it)')
    .action(async (o) => {
      try {
        const owner = await readOwner(o.owner)
        const subject = await peerOf(o)
        const ttl = parseTtl(o.ttl)
        if (ttl > MAX_CREDENTIAL_TTL_MS) fail('--ttl: a credential may last at most 366 days')
        const now = Date.now()
        const c = await issueCredential(owner.key, {
          mesh: owner.mesh, subject, roles: o.roles ?? ['agent'], capabilities: o.capabilities ?? [], issuedAt: now, expiresAt: now + ttl
        })
        const text = JSON.stringify(c, null, 2) + '\n'
        if (o.out === undefined) process.stdout.write(text)
        else {
          const before = await replacedCredential(o.out, c.mesh, subject)
          await writeAtomic(o.out, text)
          process.stdout.write(`${c.serial}\nwrote ${o.out}: ${subject} in mesh ${c.mesh}, roles ${c.roles.join(',') || '(none)'}, until ${new Date(c.expiresAt).toISOString()}\n`)
          if (before !== undefined) process.stderr.write(`agentmesh: ${o.out} held ${before}, which it no longer holds\n`)
        }
      } catch (err) {
        report(err)
      }
    })
}

function revoke (): Command {
  return new Command('revoke')
    .description('add a peer or a credential serial to the signed revocation list (re-signed, newer)')
    .requiredOption('--owner <file>', 'mesh owner key file (agentmesh mesh init)')
    .option('--peer <peer id>', 'revoke every credential of this peer (repeat or comma-separate)', list)
    .option('--serial <serial>', 'revoke one credential by its serial (repeat or comma-separate)', list)
    .option('--list <file>', 'the revocation list to extend (created if missing)', 'revocations.json')
    .action(async (o) => {
      try {
        const peers: string[] = o.peer ?? []
        const serials: string[] = o.serial ?? []
        if (peers.length + serials.length === 0) fail('give --peer <peer id> or --serial <serial>')
        for (const p of peers) if (!PeerIdString.safeParse(p).success) fail(`not a peer id: ${p}`)
        for (const s of serials) if (!/^[0-9a-f]{32}$/.test(s)) fail(`not a credential serial (32 hex digits): ${s}`)
        const owner = await readOwner(o.owner)
        let text: string | undefined
        try {
          text = await readFile(o.list, 'utf8')
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        }
        const old = text === undefined ? undefined : await verifyRevocations(JSON.parse(text), { mesh: owner.mesh, issuer: owner.issuer })
        // Newer than the list it replaces, even within one millisecond: the newest wins everywhere.
        const issuedAt = Math.max(Date.now(), (old?.issuedAt ?? 0) + 1)
        const next = await signRevocations(owner.key, {
          mesh: owner.mesh, serials: [...(old?.serials ?? []), ...serials], subjects: [...(old?.subjects ?? []), ...peers], issuedAt
        })
        await writeAtomic(o.list, JSON.stringify(next, null, 2) + '\n')
        process.stdout.write(`wrote ${o.list}: ${next.subjects.length} peers and ${next.serials.length} credentials revoked, issued ${new Date(issuedAt).toISOString()}\n`)
      } catch (err) {
        report(err)
      }
    })
}

export function credentialCommand (): Command {
  return new Command('credential')
    .description('credentials of a closed mesh, signed with the owner key (docs/security.md)')
    .addCommand(issue())
    .addCommand(revoke())
}
