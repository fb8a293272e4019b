/**
 * `$agentmesh/keyring`: the mesh keyring of a running node (node/keyring.ts), changed by
 * `agentmesh keyring install|use|remove` and read by `keyring list` (surfaces/cli/keyring.ts), a
 * client joined with its own credential, as `revocation publish` is.
 *
 * Who may: unlike a revocation list, a keyring change carries no signature of the owner (the
 * owner key stays offline, and a key cannot be signed into a mesh without it), so the caller is
 * what is checked: only a peer whose credential, signed by the mesh owner, grants the role
 * `operator` (SEC002 for any other admitted peer, before this handler runs), and only on a
 * closed node (an open node would take the role from the caller's own card: CFG001). The key
 * travels inside the rpc stream: Noise end to end, and the mesh key under it.
 *
 * Every change, and every refusal past the role check, is audited (`keyring.changed`,
 * `keyring.refused`; `command.forbidden` for the role), with the key id, never the key.
 */
import { z } from 'zod'
import { defineCommand } from '../protocols/rpc/commands.js'
import type { RpcService } from '../protocols/rpc/index.js'
import { AgentMeshError, ConfigError } from '../protocols/core/errors.js'
import type { AuditSink } from '../protocols/core/audit.js'
import type { AgentConfig } from './config.js'
import type { Change, Keyring } from './keyring.js'

/** The role a caller's credential must grant to read or change a node's keyring. */
export const KEYRING_ROLE = 'operator'

const KeyIdText = z.string().regex(/^[0-9a-f]{16}$/, 'a key id is 16 hex digits (agentmesh keyring list)')

export const KeyringRequest = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('list') }),
  /** The key's 32 bytes in hex (the third line of a key file). */
  z.strictObject({ op: z.literal('install'), key: z.string().regex(/^[0-9a-f]{64}$/, 'a key is 64 hex digits') }),
  z.strictObject({ op: z.literal('use'), id: KeyIdText }),
  z.strictObject({ op: z.literal('remove'), id: KeyIdText })
])
export type KeyringRequest = z.infer<typeof KeyringRequest>

export const KeyringCommand = defineCommand('$agentmesh/keyring', {
  request: KeyringRequest,
  response: z.strictObject({
    /** The ring after the request, primary first, with the connections open under each key. */
    keys: z.array(z.strictObject({ id: z.string(), primary: z.boolean(), connections: z.number().int().nonnegative() })),
    /** The key the request named (install: the new key's id). */
    id: z.string().optional(),
    /** False when the ring already was so (the key held, already the primary). */
    changed: z.boolean(),
    /** Connections closed because they used the removed key. */
    closed: z.number().int().nonnegative(),
    /**
     * Whether the ring as it is now is in the data directory's keyring file, so a restart keeps
     * it (false without a data directory, or before the first change).
     */
    persisted: z.boolean()
  })
})

interface KeyringHost { readonly config: AgentConfig, readonly keyring?: Keyring }

export function handleKeyring (rpc: RpcService, host: KeyringHost, audit: AuditSink): void {
  // Changes one after another: each writes the whole ring.
  let queue: Promise<unknown> = Promise.resolve()
  rpc.handle(KeyringCommand, async (req, ctx) => {
    const refuse = (err: AgentMeshError): never => {
      audit.record({ kind: 'keyring.refused', peer: ctx.peer, correlationId: ctx.envelope.id, code: err.code, reason: err.message.slice(0, 200), detail: { op: req.op } })
      throw err
    }
    if (host.config.security.mode === 'open') refuse(new ConfigError('an open node takes no keyring change over the mesh: any peer could claim the operator role there (restart it with the new --psk)'))
    const ring = host.keyring
    if (ring === undefined) return refuse(new ConfigError('this node has no mesh key (security.psk): a keyring starts from one, so restart it with --psk first'))
    const answer = (change?: Change): z.input<typeof KeyringCommand.response> => ({
      keys: ring.list().map(k => ({ ...k, connections: ring.connections(k.id) })),
      ...(change !== undefined ? { id: change.id } : {}),
      changed: change?.changed ?? false,
      closed: change?.closed ?? 0,
      persisted: ring.saved
    })
    if (req.op === 'list') return answer()
    const run = async (): Promise<z.input<typeof KeyringCommand.response>> => {
      let change: Change
      try {
        change = req.op === 'install' ? ring.install(new Uint8Array(Buffer.from(req.key, 'hex'))) : req.op === 'use' ? ring.use(req.id) : ring.remove(req.id)
      } catch (err) {
        return err instanceof AgentMeshError ? refuse(err) : await Promise.reject(err)
      }
      if (!change.changed) return answer(change)
      // In memory first (it protects the next handshake at once), then on disk: a failed write says so in the answer's error.
      const persisted = await ring.save()
      audit.record({ kind: 'keyring.changed', peer: ctx.peer, correlationId: ctx.envelope.id, detail: { op: req.op, keyId: change.id, primary: ring.primary().id, keys: ring.all().length, closed: change.closed, persisted } })
      return answer(change)
    }
    const result = queue.then(run, run)
    queue = result.catch(() => {})
    return await result
  }, { allow: { roles: [KEYRING_ROLE] } })
}
