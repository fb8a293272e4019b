/**
 * What a node checks of its own security settings at start, before anything listens
 * (docs/security.md "Modes"): in closed mode its credential must verify for its own peer id and
 * mesh, and the revocation list of `security.revocations` against the same owner; open mode is
 * logged and listed by /health as a warning (node/admission.ts).
 */
import { readFile } from 'node:fs/promises'
import type { AgentConfig } from './config.js'
import { ConfigError } from '../protocols/core/errors.js'
import { verifyCredential, type Credential } from '../protocols/admission/credential.js'
import { Revocations, verifyRevocations, type RevocationList } from '../protocols/admission/revocation.js'

/** This node's own credential and the revocation list it was given, both checked. */
export interface Security { credential?: Credential, revocations?: RevocationList }

export const HOW_TO_GET = 'ask the mesh owner for one: agentmesh credential issue --owner mesh-owner.json --peer <this peer id> --roles agent,coordinator --out cred.json'

/** What a node with neither a credential nor `--open` is told: every command that gets it one, and the way out for local development. */
function howToClose (mesh: string): string {
  return 'a node is closed by default (security.mode "closed") and needs a credential of the mesh owner to start. To get one:\n' +
    `  agentmesh mesh init --mesh ${mesh}     (once, by the mesh owner: writes mesh-owner.json, kept offline, and mesh.psk)\n` +
    '  agentmesh id --identity id.json     (this node\'s identity, created mode 0600)\n' +
    '  agentmesh credential issue --owner mesh-owner.json --identity id.json --roles agent,coordinator --out cred.json\n' +
    'then give --identity id.json --credential cred.json (and --psk mesh.psk if the mesh uses its key); ' +
    'a node embedded with createAgentNode takes them as AGENTMESH_IDENTITY, AGENTMESH_SECURITY_CREDENTIAL and AGENTMESH_SECURITY_PSK (with env: process.env), ' +
    'or the options identity, security.credential and security.psk. ' +
    'For local development only, --open (security.mode "open", AGENTMESH_SECURITY_MODE=open, or --preset local) admits any peer that knows the mesh name.'
}

/** Logged at start and listed by /health (`warnings`) while a node runs open. */
export const OPEN_MODE_WARNING = 'open mode: any peer that knows the mesh name is admitted, with the roles and capabilities it claims; ' +
  'for local development only (a mesh is closed with credentials: docs/security.md)'

async function readJson (path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new ConfigError(`cannot read the ${what} ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * In closed mode, this node's credential (it must verify for this very peer id, or the node
 * refuses to start) and the revocation list of `security.revocations`; nothing in open mode.
 */
export async function loadSecurity (config: AgentConfig, peerId: string, keyGiven: boolean, identityCreated = false): Promise<Security> {
  const sec = config.security
  if (sec.mode === 'open') return {}
  if (sec.credential === undefined) throw new ConfigError(howToClose(config.mesh))
  if (config.identity === undefined && !keyGiven) {
    throw new ConfigError('security.mode "closed" needs an identity file (--identity <file>): a credential names one peer id, and a fresh identity is another each start ' +
      '(--open, for local development only, needs neither)')
  }
  const raw = await readJson(sec.credential, 'credential file')
  const issuer = typeof raw === 'object' && raw !== null ? String((raw as { issuer?: unknown }).issuer) : ''
  const subject = typeof raw === 'object' && raw !== null ? (raw as { subject?: unknown }).subject : undefined
  // No file at --identity: this start made a key of its own (written only if it is admitted), so
  // the credential, issued for an existing identity, names another peer. The usual cause is a
  // mistyped path; "issue a credential for <this peer id>" would name a key no file holds yet.
  if (identityCreated && config.identity !== undefined && typeof subject === 'string' && subject !== peerId) {
    throw new ConfigError(`identity file ${config.identity} does not exist, and credential ${sec.credential} is for peer ${subject}: ` +
      `give --identity the file of ${subject} (agentmesh id --identity <file> shows the peer id of a file). ` +
      `For a new agent, create its identity first (agentmesh id --identity ${config.identity}) and have the mesh owner issue a credential for it ` +
      `(agentmesh credential issue --owner mesh-owner.json --identity ${config.identity} --roles agent,coordinator --out cred.json)`)
  }
  let revocations: RevocationList | undefined
  if (sec.revocations !== undefined) revocations = await readRevocations(sec.revocations, { mesh: config.mesh, issuer })
  return await checkOwnCredential(config, peerId, raw, revocations, `credential ${sec.credential}`)
}

/**
 * A credential (as parsed JSON) checked for this very peer id and mesh, and against an already
 * verified revocation list: what loadSecurity does once it has read the files, and what a browser
 * node, which has no files, does with the objects it is given (node/browser.ts). CFG001 when it
 * does not admit this node.
 */
export async function checkOwnCredential (config: AgentConfig, peerId: string, raw: unknown, revocations?: RevocationList, what = 'the credential'): Promise<Security> {
  const issuer = typeof raw === 'object' && raw !== null ? String((raw as { issuer?: unknown }).issuer) : ''
  const held = new Revocations()
  if (revocations !== undefined) held.offer(revocations)
  try {
    const credential = await verifyCredential(raw, { issuer, mesh: config.mesh, subject: peerId, now: Date.now(), revoked: c => held.revoked(c) })
    return { credential, ...(revocations !== undefined ? { revocations } : {}) }
  } catch (err) {
    // Another mesh's credential: most often this node was not told its mesh (it is "default"
    // then), and a new credential from that mesh's owner could not help (an owner issues for its own mesh).
    const mesh = typeof raw === 'object' && raw !== null ? (raw as { mesh?: unknown }).mesh : undefined
    const fix = typeof mesh === 'string' && mesh !== config.mesh
      ? `this node's mesh is "${config.mesh}": to join mesh "${mesh}", start it with --mesh ${mesh} (AGENTMESH_MESH=${mesh}, or the option mesh: '${mesh}'); for mesh "${config.mesh}", ${HOW_TO_GET.replace('<this peer id>', peerId)}`
      : HOW_TO_GET.replace('<this peer id>', peerId)
    throw new ConfigError(`${what} does not admit this node (${peerId}): ${(err as Error).message}; ${fix}`, { cause: err })
  }
}

async function readRevocations (path: string, trust: { mesh: string, issuer: string }): Promise<RevocationList> {
  try {
    return await verifyRevocations(await readJson(path, 'revocation list'), trust)
  } catch (err) {
    throw err instanceof ConfigError ? err : new ConfigError(`revocation list ${path}: ${(err as Error).message}`, { cause: err })
  }
}
