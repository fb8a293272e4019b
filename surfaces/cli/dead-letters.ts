/**
 * `agentmesh dead-letters list|show|replay|purge`: a node's dead letters through its debug
 * endpoint (/dead-letters; docs/dead-letters.md). A table by default, JSON with --json.
 */
import { Command } from 'commander'
import { EXIT_RUNTIME, fail, report } from './common.js'
import { debugUrl } from './status.js'

interface Letter {
  id: string
  side: string
  reason: string
  peer?: string
  topic?: string
  envelope: { id: string, subject: string, type: string }
  error: { code: string, name: string, message: string }
  attempts: number
  deadAt: number
  replays?: number
}
interface Page { letters: Letter[], total: number, next?: string, evicted: number, enabled: boolean }
type ReplayResult = { id: string, status: string, error?: { code: string, message: string } }

interface Where { debug: string, token?: string, json?: boolean }

/** One call to the debug endpoint; an error answer's message (a typed error's code) becomes the failure. */
async function call<T> (o: Where, path: string, body?: unknown): Promise<T> {
  const url = debugUrl(o.debug)
  const headers: Record<string, string> = { ...(o.token !== undefined ? { authorization: `Bearer ${o.token}` } : {}) }
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(`${url}${path}`, {
      method: body !== undefined ? 'POST' : 'GET',
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000)
    })
  } catch (err) {
    const e = err as Error & { cause?: Error }
    throw new Error(`cannot reach ${url}: ${e.cause?.message ?? e.message}`)
  }
  const answer = await res.json().catch(() => ({})) as any
  if (!res.ok) {
    const e = answer?.error
    const why = typeof e === 'object' && e !== null ? `${String(e.code)} ${String(e.name)}: ${String(e.message)}` : String(e ?? '')
    throw new Error(`${url}${path}: HTTP ${res.status}${why !== '' ? ` ${why}` : ''}${res.status === 401 ? ' (give --token)' : ''}`)
  }
  return answer as T
}

/** Columns padded to their widest cell. */
function table (rows: Array<Record<string, string>>): string {
  const cols = Object.keys(rows[0])
  const width = cols.map(c => Math.max(c.length, ...rows.map(r => r[c].length)))
  const line = (texts: string[]): string => texts.map((t, i) => t.padEnd(width[i])).join('  ').trimEnd()
  return [line(cols), line(width.map(w => '-'.repeat(w))), ...rows.map(r => line(cols.map(c => r[c])))].join('\n') + '\n'
}

export function renderList (page: Page): string {
  const head = `${page.letters.length} of ${page.total} dead letters held${page.evicted > 0 ? `, ${page.evicted} evicted since start` : ''}${page.enabled ? '' : ' (dead letters are off)'}`
  if (page.letters.length === 0) return `${head}\n`
  const rows = page.letters.map(l => ({
    id: l.id,
    'died at': new Date(l.deadAt).toISOString(),
    reason: l.reason,
    side: l.side,
    peer: l.peer ?? (l.topic !== undefined ? `topic:${l.topic}` : ''),
    subject: l.envelope.subject,
    attempts: String(l.attempts),
    replays: String(l.replays ?? 0),
    error: `${l.error.code} ${l.error.message}`.slice(0, 60)
  }))
  return `${head}\n${table(rows)}${page.next !== undefined ? `more: --after ${page.next}\n` : ''}`
}

export function renderLetter (l: Letter): string {
  const fields: Array<[string, unknown]> = [
    ['id', l.id], ['reason', l.reason], ['side', l.side], ['peer', l.peer], ['topic', l.topic], ['died at', new Date(l.deadAt).toISOString()],
    ['attempts', l.attempts], ['replays', l.replays ?? 0], ['error', `${l.error.code} ${l.error.name}: ${l.error.message}`], ['message id', l.envelope.id]
  ]
  const lines = fields.filter(([, v]) => v !== undefined).map(([k, v]) => `${k.padEnd(10)}  ${String(v)}`)
  return `${lines.join('\n')}\nenvelope\n${JSON.stringify(l.envelope, null, 2)}\n`
}

/** --debug, --token and --json, on each subcommand (where a user types them). */
function where (cmd: Command): Command {
  return cmd
    .requiredOption('--debug <host:port>', 'the node\'s debug endpoint, as given to start --debug (or a URL), e.g. 127.0.0.1:8001')
    .option('--token <token>', 'bearer token of the debug endpoint')
    .option('--json', 'print the endpoint\'s JSON answer')
}

const out = (o: Where, value: unknown, human: () => string): void => {
  process.stdout.write(o.json === true ? `${JSON.stringify(value)}\n` : human())
}

export function deadLettersCommand (): Command {
  const cmd = new Command('dead-letters')
    .description('list, show, replay or purge a node\'s dead letters: messages reliable delivery gave up on (docs/dead-letters.md)')
  cmd.addCommand(where(new Command('list'))
    .description('the dead letters, oldest first')
    .option('--limit <n>', 'at most this many (default 100, at most 1000)')
    .option('--after <id>', 'only those after this id (the previous page\'s last)')
    .option('--reason <reason>', 'only this reason: retries_exhausted, expired, handler_failed, refused, conflict, circuit_open')
    .option('--peer <peerId>', 'only those for or from this peer')
    .action(async (o) => {
      try {
        const q = new URLSearchParams()
        for (const k of ['limit', 'after', 'reason', 'peer']) if (o[k] !== undefined) q.set(k, String(o[k]))
        const page = await call<Page>(o, `/dead-letters${q.size > 0 ? `?${q.toString()}` : ''}`)
        out(o, page, () => renderList(page))
      } catch (err) { report(err) }
    }))
  cmd.addCommand(where(new Command('show'))
    .description('one dead letter with its envelope and last error')
    .argument('<id>', 'the dead letter\'s id (from list)')
    .action(async (id: string, o) => {
      try {
        const letter = await call<Letter>(o, `/dead-letters/${encodeURIComponent(id)}`)
        out(o, letter, () => renderLetter(letter))
      } catch (err) { report(err) }
    }))
  cmd.addCommand(where(new Command('replay'))
    .description('send dead letters again under their original message id (exactly-once receivers still know them); one resent leaves the list')
    .argument('<id...>', 'dead letter ids, replayed in the order given')
    .action(async (ids: string[], o) => {
      try {
        const { results } = await call<{ results: ReplayResult[] }>(o, '/dead-letters/replay', { ids })
        out(o, results, () => results.map(r => `${r.id}  ${r.status}${r.error !== undefined ? `  ${r.error.code} ${r.error.message}` : ''}\n`).join(''))
        if (results.some(r => r.status !== 'resent')) process.exitCode = EXIT_RUNTIME
      } catch (err) { report(err) }
    }))
  cmd.addCommand(where(new Command('purge'))
    .description('delete dead letters: those named, or every one with --all')
    .argument('[id...]', 'dead letter ids')
    .option('--all', 'every dead letter this node holds')
    .action(async (ids: string[], o) => {
      try {
        if ((o.all === true) === (ids.length > 0)) fail('give dead letter ids or --all (not both)')
        const r = await call<{ purged: string[], unknown: string[] }>(o, '/dead-letters/purge', o.all === true ? {} : { ids })
        out(o, r, () => `${r.purged.length} purged${r.unknown.length > 0 ? `; unknown: ${r.unknown.join(' ')}` : ''}\n`)
        if (r.unknown.length > 0) process.exitCode = EXIT_RUNTIME
      } catch (err) { report(err) }
    }))
  return cmd
}
