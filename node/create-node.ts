/** createAgentNode: the config, identity, security checks, store and libp2p a node is made of. */
import './polyfills.js'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { join } from 'node:path'
import { loadConfig, parseConfig } from './config.js'
import { freshIdentity, readIdentity, writeIdentity } from './identity.js'
import { buildLibp2p } from './libp2p.js'
import { nodeConnectivity } from './libp2p-node.js'
import { Stats } from './stats.js'
import { tracingUnregistered } from '../protocols/envelope/trace.js'
import type { CreateAgentNodeOptions } from './types.js'
import { loadSecurity } from './security-load.js'
import { AgentNode } from './agent-node.js'
import { LmdbStore } from './store.js'
import { bindIdentity } from './data-dir.js'
import { MemoryStore } from '../protocols/core/store.js'
import { readPsk } from './psk.js'
import { loadKeyring } from './keyring.js'
import { reportMeshKeyRefusals } from './mesh-key-refusals.js'

/** Create a node (not yet started) from options validated against the config schema. */
export async function createAgentNode (options: CreateAgentNodeOptions = {}): Promise<AgentNode> {
  const { privateKey, logger, env, ...rest } = options
  // With `env`, the AGENTMESH_* variables apply under the options given, as for the CLI's flags.
  const config = env !== undefined ? await loadConfig({ env, flags: rest }) : parseConfig(rest)
  // With a data directory and no identity file named, the identity lives in the data directory.
  const identityFile = config.identity ?? (config.dataDir !== undefined ? join(config.dataDir, 'identity.key') : undefined)
  // A new identity is written only once nothing refuses it (the credential, the data directory's
  // owner): a refused start leaves no key behind (issue 44), and its message stays true.
  const found = privateKey === undefined && identityFile !== undefined ? await readIdentity(identityFile) : undefined
  const unwritten = privateKey === undefined && identityFile !== undefined && found === undefined ? await freshIdentity() : undefined
  const id = privateKey !== undefined ? { privateKey } : found ?? unwritten ?? await freshIdentity()
  const peerId = peerIdFromPrivateKey(id.privateKey).toString()
  const keep = async (): Promise<void> => { if (unwritten !== undefined && identityFile !== undefined) await writeIdentity(identityFile, unwritten) }
  // Before anything listens: a closed-mesh node whose credential does not verify never starts.
  const security = await loadSecurity(config, peerId, privateKey !== undefined, unwritten !== undefined)
  // After the security check, so a start refused for its credential leaves no store behind and binds no directory.
  // Before anything listens: a data directory in use by another node, or a damaged store, stops here (STO001).
  const store = config.dataDir !== undefined ? LmdbStore.open(config.dataDir) : new MemoryStore()
  try {
    if (config.dataDir !== undefined) await bindIdentity(store, config.dataDir, peerId, identityFile, unwritten !== undefined, keep)
    else await keep()
    const stats = new Stats()
    // The mesh keys: the data directory's keyring (what `agentmesh keyring` last set), else security.psk.
    const keyring = await loadKeyring(config.dataDir, config.security.psk !== undefined ? await readPsk(config.security.psk) : undefined)
    const libp2p = await buildLibp2p(config, id.privateKey, await nodeConnectivity(config, keyring), config.debug !== undefined ? stats.registry : undefined)
    libp2p.services.connectionGate.onRefused = (reason) => { stats.inc('connections_refused_total', { reason }) }
    const parts = { stats, security, store, ...(keyring !== undefined ? { keyring } : {}), ...(logger !== undefined ? { log: logger } : {}) }
    const node = new AgentNode(config, libp2p, parts)
    // Before start(): no connection is made before then.
    if (keyring !== undefined) reportMeshKeyRefusals(keyring, stats, node.log)
    // The SDK is the application's to install (the CLI does, surfaces/cli/traced-node.ts): a library
    // that registered the process's tracer provider, context manager and propagator would take
    // them from the host that embeds it. Said once, where the endpoint was set but nothing listens.
    if (config.tracing.otlpEndpoint !== undefined && tracingUnregistered()) {
      node.log.warn({ otlpEndpoint: config.tracing.otlpEndpoint }, 'tracing.otlpEndpoint is applied by the agentmesh CLI; this process registered no OpenTelemetry SDK, so no span is exported (register one, e.g. @opentelemetry/sdk-trace-node with an OTLP exporter)')
    }
    return node
  } catch (err) {
    // The lock is this process's until the node stops: a failed creation lets it go.
    await store.close()
    throw err
  }
}
