/**
 * The data directory's binding to one identity (issue 14). Everything in a data directory (the
 * election's term and vote, the outbox, the dedup window) was promised by one peer; opened under
 * another key, those promises would be kept in the wrong name (a vote cast twice in a term, a
 * dedup answer signed by a stranger). So the first identity to use a directory is recorded in
 * it, and a different one is refused.
 */
import { homedir } from 'node:os'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DataDirTakenError } from '../protocols/core/errors.js'
import type { Store } from '../protocols/core/store.js'
import { readStoreValue } from './store.js'

/** The space holding what the node knows about itself. */
const SPACE = 'node'

/**
 * Record `peerId` as the owner of the store's data directory, or refuse when another peer owns it.
 * `keep` writes this node's identity file when it is new: called once the directory has taken the
 * identity and before it is recorded, so a refused start has written nothing, and a recorded owner
 * always has its key. `fresh`: the identity is a new one (no file yet), said so in the refusal.
 */
export async function bindIdentity (store: Store, dataDir: string, peerId: string, identityFile: string | undefined,
  fresh = false, keep: () => Promise<void> = async () => {}): Promise<void> {
  const space = store.space<string>(SPACE)
  const owner = space.get('peerId')
  if (owner !== undefined && owner !== peerId) throw new DataDirTakenError(refusal(dataDir, owner, space.get('identityFile'), peerId, identityFile, fresh))
  await keep()
  if (owner === undefined) {
    await space.put('peerId', peerId)
    // Where the owner's key is, so that a refusal can say what to type to start as the owner.
    if (identityFile !== undefined) await space.put('identityFile', resolve(identityFile))
  }
}

/**
 * Why another identity is refused, and the two ways on, as flags to add: the owner's identity
 * file (when the directory recorded one), or a directory of this identity's own.
 */
function refusal (dataDir: string, owner: string, ownerFile: string | undefined, peerId: string, identityFile: string | undefined, fresh: boolean): string {
  const mine = fresh
    ? `the new identity this start would have written to ${identityFile ?? 'memory'}`
    : `this node's identity ${peerId}${identityFile !== undefined ? ` (${identityFile})` : ''}`
  let free = 2
  while (existsSync(`${dataDir}-${free}`)) free++
  const ways = [
    ...(ownerFile !== undefined && ownerFile !== resolve(identityFile ?? '') ? [`start as ${owner} with --identity ${ownerFile}`] : []),
    `give this identity a directory of its own with --data-dir ${dataDir}-${free} (or keep nothing: --no-data-dir)`
  ]
  return `the data directory ${dataDir} belongs to peer ${owner}${ownerFile !== undefined ? ` (${ownerFile})` : ''}, not to ${mine}: ` +
    `${ways.join('; or ')}. Nothing was changed`
}

/** The identity a data directory belongs to (recorded at its first start), read without taking its LOCK. */
export interface DataDirOwner {
  peerId: string
  /** Where its key was when it was recorded (an absolute path); older directories did not record it. */
  identityFile?: string
}

/** The owner of `dataDir`, read while its node may run (node/store.ts readStoreValue); undefined when none is recorded. */
export async function dataDirOwner (dataDir: string): Promise<DataDirOwner | undefined> {
  const peerId = await readStoreValue<string>(dataDir, SPACE, 'peerId')
  if (peerId === undefined) return undefined
  const identityFile = await readStoreValue<string>(dataDir, SPACE, 'identityFile')
  return { peerId, ...(identityFile !== undefined ? { identityFile } : {}) }
}

/** The CLI's data directory when none is given: one per agent name under the user's home, so two agents on a host never share one. */
export function defaultDataDir (name: string | undefined): string {
  // A name is free text (max 64): keep it one path segment.
  const safe = (name ?? 'default').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+$/, '_')
  return join(homedir(), '.agentmesh', safe)
}
