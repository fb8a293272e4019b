/**
 * agentmesh in a browser tab: the entry of the browser bundle (`npm run build:browser` writes
 * dist/browser/agentmesh.js; tools/build-browser.ts says how it is made). The same AgentNode as
 * in Node.js, the same protocols, envelope validation, admission and Noise; what differs is how
 * the node is made here and what it cannot do (docs/browser.md):
 *
 *   import { createAgentNode, generateIdentity } from './agentmesh.js'
 *   const node = await createAgentNode({
 *     name: 'ui', mesh: 'prod', bootstrap: ['/dns4/mesh.example.com/tcp/443/wss/p2p/12D3KooW...'],
 *     privateKey, credential   // closed mesh: a credential issued for this key's peer id
 *   })
 *   await node.start()
 *
 * No listening (a browser dials agents that listen on WebSockets), no mDNS, no debug endpoint,
 * no files (identity, data directory, audit log, state file: the key and the credential are
 * passed in as objects, state lives in memory), no OTLP exporter of its own. A setting that needs
 * one of these is refused with CFG001 before anything starts.
 */
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { parseConfig, type AgentConfig, type AgentConfigInput } from './config.js'
import { buildLibp2p } from './libp2p.js'
import { AgentNode } from './agent-node.js'
import { Stats } from './stats.js'
import type { Logger } from './log.js'
import { checkOwnCredential, type Security } from './security-load.js'
import { keyOfPskFile } from './mesh-key.js'
import { MemoryStore } from '../protocols/core/store.js'
import { ConfigError } from '../protocols/core/errors.js'
import { verifyRevocations } from '../protocols/admission/revocation.js'
import { browserConnectivity } from './browser/connectivity.js'
import { generateIdentity } from './browser/identity.js'

export interface BrowserNodeOptions extends Omit<AgentConfigInput, 'dataDir' | 'identity' | 'listen' | 'announce' | 'mdns' | 'debug' | 'debugToken'> {
  /** This node's key (generateIdentity, importIdentity); none: a fresh one, another peer id each time (open mode only). */
  privateKey?: PrivateKey
  /** A pino logger instead of the node's own (objects on the console at `logLevel`). */
  logger?: Logger
  /** Closed mode: this node's credential, the JSON object `agentmesh credential issue` writes, issued for this key's peer id. */
  credential?: unknown
  /** A signed revocation list (`agentmesh credential revoke`), as its JSON object. */
  revocations?: unknown
  /** The mesh key file's text (`mesh.psk`), when the mesh has one: every script of the page can read it. */
  meshKey?: string | Uint8Array
  /**
   * Dial plain `ws://` to this machine's own addresses (127.0.0.0/8, ::1, localhost): local
   * development only. Off, only secure WebSockets (/wss, /tls/ws) are dialled (node/browser/connectivity.ts).
   */
  insecureLocal?: boolean
}

/** Settings a browser node cannot honour, each with what to do instead. */
const NODE_ONLY: Array<[path: string, instead: string]> = [
  ['dataDir', 'a browser node keeps its state in memory'],
  ['identity', 'give privateKey (generateIdentity, importIdentity)'],
  ['listen', 'a browser cannot listen: give bootstrap, the /wss (or local /ws) addresses of agents'],
  ['announce', 'a browser node has no address of its own'],
  ['mdns', 'a browser has no multicast DNS'],
  ['debug', 'a browser cannot serve HTTP: watch the node through an agent\'s debug endpoint'],
  ['debugToken', 'a browser node has no debug endpoint'],
  ['gateway.listen', 'a browser cannot serve HTTP: run the gateway on an agent'],
  ['security.credential', 'give the credential object itself as credential'],
  ['security.revocations', 'give the revocation list object itself as revocations'],
  ['security.psk', 'give the mesh key file\'s text as meshKey'],
  ['security.auditLog', 'a browser node keeps its audit trail in memory'],
  ['tracing.otlpEndpoint', 'register an OpenTelemetry SDK in the page: the node traces through its API'],
  ['coordination.stateFile', 'a browser node has no files']
]

/** What a browser node is unless told otherwise: it listens nowhere, and a tab that may close any time does not vote. */
function browserDefaults (input: Record<string, unknown>): Record<string, unknown> {
  const coordination = (input.coordination ?? {}) as Record<string, unknown>
  return { ...input, listen: [], mdns: false, coordination: { eligible: false, ...coordination } }
}

/** CFG001 for every Node-only setting given (listen: [] and mdns: false are what a browser node is anyway). */
export function refuseNodeOnly (input: Record<string, unknown>): void {
  const given = NODE_ONLY.filter(([path]) => {
    const value = path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], input)
    if (value === undefined) return false
    if (path === 'listen' || path === 'announce') return !(Array.isArray(value) && value.length === 0)
    return !(path === 'mdns' && value === false)
  })
  if (given.length > 0) throw new ConfigError(`not available in a browser node:\n  ${given.map(([path, instead]) => `${path}: ${instead}`).join('\n  ')}`)
}

/** A closed mesh's admission of this node: the credential object, checked as a credential file is (node/security-load.ts). */
async function browserSecurity (
  config: AgentConfig, peerId: string, given: { credential?: unknown, revocations?: unknown, keyGiven: boolean }
): Promise<Security> {
  if (config.security.mode === 'open') return {}
  if (given.credential === undefined || !given.keyGiven) {
    throw new ConfigError('a browser node of a closed mesh (security.mode "closed") needs privateKey and a credential issued for its peer id ' +
      `(${peerId} for this key): agentmesh credential issue --owner mesh-owner.json --peer <peer id> --roles agent --out cred.json, ` +
      'passed as the credential object. For local development only, preset "local" (or security.mode "open") needs neither.')
  }
  const raw = given.credential
  const issuer = typeof raw === 'object' && raw !== null ? String((raw as { issuer?: unknown }).issuer) : ''
  let revocations
  if (given.revocations !== undefined) {
    try {
      revocations = await verifyRevocations(given.revocations, { mesh: config.mesh, issuer })
    } catch (err) {
      throw new ConfigError(`revocations: ${(err as Error).message}`, { cause: err })
    }
  }
  return await checkOwnCredential(config, peerId, raw, revocations)
}

function pskBytes (meshKey: string | Uint8Array): Uint8Array {
  const bytes = typeof meshKey === 'string' ? new TextEncoder().encode(meshKey) : meshKey
  try {
    keyOfPskFile(bytes)
  } catch (err) {
    throw new ConfigError(`meshKey is not a mesh key file's text ("/key/swarm/psk/1.0.0/", "/base16/", 64 hex digits): ${(err as Error).message}`, { cause: err })
  }
  return bytes
}

/** A browser node (not yet started), from options validated against the config schema; see the top of this file. */
export async function createAgentNode (options: BrowserNodeOptions = {}): Promise<AgentNode> {
  const { privateKey, logger, credential, revocations, meshKey, insecureLocal = false, ...rest } = options
  refuseNodeOnly(rest as Record<string, unknown>)
  const config = parseConfig(browserDefaults(rest as Record<string, unknown>))
  const key = privateKey ?? await generateIdentity()
  const peerId = peerIdFromPrivateKey(key).toString()
  const security = await browserSecurity(config, peerId, { credential, revocations, keyGiven: privateKey !== undefined })
  const psk = meshKey !== undefined ? pskBytes(meshKey) : undefined
  const libp2p = await buildLibp2p(config, key, browserConnectivity({ insecureLocal, ...(psk !== undefined ? { psk } : {}) }))
  return new AgentNode(config, libp2p, { stats: new Stats(), security, store: new MemoryStore(), ...(logger !== undefined ? { log: logger } : {}) })
}

export { AgentNode, type AgentNodeEvents, type Health, type HandleOptions } from './agent-node.js'
export { generateIdentity, exportIdentity, importIdentity, type IdentityObject } from './browser/identity.js'
export { dialable } from './browser/connectivity.js'
export type { Allow } from './types.js'
export { ConfigSchema, parseConfig, configKeys, presets, PRESET_NAMES, type AgentConfig, type AgentConfigInput, type Preset, type PresetName } from './config.js'
export * from '../protocols/core/errors.js'
export { Stats } from './stats.js'
export { AGENTMESH_VERSION } from '../protocols/core/version.js'
export { defineCommand, type Command, type Handler, type HandlerContext, type RequestOptions, type SendResult, RPC_PROTOCOL } from '../protocols/rpc/index.js'
export { defineTopic, type Topic, type Message, Subscription, type PublishOptions } from '../protocols/pubsub/index.js'
export { Envelope, MessageType, Priority, Destination, makeEnvelope, encodeEnvelope, decodeEnvelope } from '../protocols/envelope/index.js'
export { AgentCard } from '../protocols/discovery/card.js'
export type { PeerInfo, AgentQuery } from '../protocols/discovery/membership.js'
export { MetricReport, Alert, Severity, alertTopic, METRICS_TOPIC, type AlertInput } from '../protocols/monitoring/index.js'
export type { EncryptFor } from '../protocols/sealing/index.js'
