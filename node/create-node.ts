/** createAgentNode: the config, identity, security checks, store and libp2p a node is made of. */
import './polyfills.js'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import { loadConfig, parseConfig, type AgentConfig } from './config.js'
import { freshIdentity, loadOrCreateIdentity } from './identity.js'
import { buildLibp2p } from './libp2p.js'
import { Stats } from './stats.js'
import { installOtlpTracing } from './otlp.js'
import type { CreateAgentNodeOptions } from './types.js'
import { loadSecurity } from './security-load.js'
import { AgentNode } from './agent-node.js'
import { LmdbStore } from './store.js'
import { bindIdentity } from './data-dir.js'
import { MemoryStore, type Store } from '../protocols/core/store.js'

/** Create a node (not yet started) from options validated against the config schema. */
export async function createAgentNode (options: CreateAgentNodeOptions = {}): Promise<AgentNode> {
  const { privateKey, logger, env, ...rest } = options
  // With `env`, the AGENTMESH_* variables apply under the options given, as for the CLI's flags.
  const config = env !== undefined ? await loadConfig({ env, flags: rest }) : parseConfig(rest)
  // The store first: its lock keeps a second node off this data directory before the identity in it is read or created.
  // Before anything listens: a data directory in use by another node, or a damaged store, stops here (STO001).
  const store = config.dataDir !== undefined ? LmdbStore.open(config.dataDir) : new MemoryStore()
  try {
    return await assemble(config, store, privateKey, logger)
  } catch (err) {
    await store.close()
    throw err
  }
}

async function assemble (config: AgentConfig, store: Store, privateKey: PrivateKey | undefined, logger: CreateAgentNodeOptions['logger']): Promise<AgentNode> {
  // With a data directory and no identity file named, the identity lives in the data directory.
  const identityFile = config.identity ?? (config.dataDir !== undefined ? join(config.dataDir, 'identity.key') : undefined)
  const id = privateKey !== undefined
    ? { privateKey }
    : identityFile !== undefined ? await loadOrCreateIdentity(identityFile) : await freshIdentity()
  if (config.dataDir !== undefined) await bindIdentity(store, config.dataDir, peerIdFromPrivateKey(id.privateKey).toString(), identityFile)
  // Before anything listens: a closed-mesh node whose credential does not verify never starts.
  const security = await loadSecurity(config, peerIdFromPrivateKey(id.privateKey).toString(), privateKey !== undefined)
  const stats = new Stats()
  const libp2p = await buildLibp2p(config, id.privateKey, config.debug !== undefined ? stats.registry : undefined)
  const node = new AgentNode(config, libp2p, { stats, security, store, ...(logger !== undefined ? { log: logger } : {}) })
  if (config.tracing.otlpEndpoint !== undefined) node.tracing = await installOtlpTracing(config.tracing.otlpEndpoint, config.tracing.serviceName)
  return node
}
