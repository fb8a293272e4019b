/**
 * Run as a child process by node/store-check.ts, never imported: opens the store at argv[2]
 * read-only and reads every key and value of every space, and checks each space's count against
 * what its tree says. A damaged page crashes or throws here, in a process that holds nothing,
 * instead of in the node. Prints {"spaces":{name:count}} and exits 0 when all is read.
 */
import { open } from 'lmdb'

const path = process.argv[2]
if (path === undefined) {
  process.stderr.write('usage: store-walk <store path>\n')
  process.exit(2)
}
try {
  // The same options as node/store.ts (MAX_SPACES, no compression), read-only: the check writes nothing.
  const root = open({ path, maxDbs: 32, compression: false, readOnly: true })
  const spaces: Record<string, number> = {}
  // Names first: opening a space while the main database's cursor is live invalidates its read transaction (MDB_BAD_TXN).
  const names = [...root.getKeys()]
  for (const name of names) {
    if (typeof name !== 'string') throw new Error(`the main database holds a key that is not a space name (${String(name)})`)
    const db = root.openDB({ name, compression: false })
    let n = 0
    for (const entry of db.getRange()) {
      // Reading the value decodes it: a damaged value throws here.
      if (entry.value === undefined) throw new Error(`space "${name}": key ${String(entry.key)} has no value`)
      n++
    }
    const counted = db.getCount()
    if (counted !== n) throw new Error(`space "${name}": its tree says ${counted} entries, ${n} were read`)
    spaces[name] = n
  }
  await root.close()
  process.stdout.write(JSON.stringify({ spaces }) + '\n')
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`)
  process.exit(1)
}
