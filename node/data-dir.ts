/**
 * The data directory's binding to one identity (issue 14). Everything in a data directory (the
 * election's term and vote, the outbox, the dedup window) was promised by one peer; opened under
 * another key, those promises would be kept in the wrong name (a vote cast twice in a term, a
 * dedup answer signed by a stranger). So the first identity to use a directory is recorded in
 * it, and a different one is refused.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { StoreError } from '../protocols/core/errors.js'
import type { Store } from '../protocols/core/store.js'

/** The space holding what the node knows about itself. */
const SPACE = 'node'

/** Record `peerId` as the owner of the store's data directory, or refuse when another peer owns it. */
export async function bindIdentity (store: Store, dataDir: string, peerId: string, identityFile: string | undefined): Promise<void> {
  const space = store.space<string>(SPACE)
  const owner = space.get('peerId')
  if (owner === undefined) {
    await space.put('peerId', peerId)
    return
  }
  if (owner !== peerId) {
    throw new StoreError(`the data directory ${dataDir} belongs to peer ${owner}, not to this node's identity ${peerId}` +
      `${identityFile !== undefined ? ` (${identityFile})` : ''}: give this identity a data directory of its own (--data-dir), or start with the identity the directory was made with` +
      ' (nothing was changed)')
  }
}

/** The CLI's data directory when none is given: one per agent name under the user's home, so two agents on a host never share one. */
export function defaultDataDir (name: string | undefined): string {
  // A name is free text (max 64): keep it one path segment.
  const safe = (name ?? 'default').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+$/, '_')
  return join(homedir(), '.agentmesh', safe)
}
