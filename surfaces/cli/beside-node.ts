/**
 * A client (request, pub, sub, keyring, revocation publish, mcp) run in a running node's
 * environment: `docker exec <container> agentmesh request …` inherits the image's
 * AGENTMESH_DATA_DIR=/data and AGENTMESH_IDENTITY=/data/identity.json, and the node's debug
 * address. Taken as given, the data directory is refused (STO001, in use by the node); and were
 * it not, the client would be the node a second time: two peers with one identity make each
 * other miss messages.
 *
 * So a client whose data directory a live process holds leaves the node's things to the node:
 * it runs in memory, under an identity of its own (a fresh one in an open mesh; in a closed mesh
 * the credential it was given is the node's, so it stops and says what to pass), and serves
 * neither the debug endpoint nor the gateway the environment or the file names (the node's;
 * a flag's is kept).
 */
import { join, resolve, sep } from 'node:path'
import type { AgentConfig } from '../../node/config.js'
import { dataDirOwner } from '../../node/data-dir.js'
import { readIdentity } from '../../node/identity.js'
import { lockHolder } from '../../node/store.js'
import { ConfigError } from '../../protocols/core/errors.js'

export interface BesideNode {
  config: AgentConfig
  /** Why the config was changed, for the client's log; undefined when it was not. */
  note?: string
}

/** `config` for a client beside the running node that holds its data directory, if one does. `flags`: the command's own. */
export async function besideRunningNode (config: AgentConfig, flags: { debug?: unknown, gateway?: unknown } = {}): Promise<BesideNode> {
  const { dataDir } = config
  const pid = dataDir !== undefined ? lockHolder(dataDir) : undefined
  if (dataDir === undefined || pid === undefined) return { config }
  const owner = await dataDirOwner(dataDir).catch(() => undefined)
  const identity = resolve(config.identity ?? join(dataDir, 'identity.key'))
  const peerId = owner !== undefined && identity !== owner.identityFile
    ? (await readIdentity(identity).catch(() => undefined))?.peerId.toString()
    : owner?.peerId
  const nodes = identity.startsWith(resolve(dataDir) + sep) || (owner !== undefined && peerId === owner.peerId)
  const held = `the data directory ${dataDir} is held by the running node (process ${pid}${owner !== undefined ? `, peer ${owner.peerId}` : ''})`
  if (nodes && config.security.mode !== 'open') {
    throw new ConfigError(`${held}, and so is the identity ${identity}: this client would be that node a second time ` +
      '(two peers with one identity miss each other\'s messages). Give it an identity and a credential of its own, ' +
      '--identity <file> --credential <file> (agentmesh id, agentmesh credential issue), or run it beside the mesh rather than in the node\'s ' +
      'environment (docker compose run --rm cli ...)')
  }
  const { dataDir: _theNodes, ...guest } = config
  if (nodes) guest.identity = undefined
  if (flags.debug === undefined) { guest.debug = undefined; guest.debugToken = undefined }
  if (flags.gateway === undefined) guest.gateway = { ...config.gateway, listen: undefined }
  const as = nodes ? 'with an identity of its own' : `as ${identity}`
  return { config: guest, note: `${held}: this client runs beside it in memory, ${as}, and serves none of the node's endpoints` }
}
