/**
 * `$agentmesh/revocations`: a revocation list handed to a running node over rpc, by
 * `agentmesh revocation publish` (surfaces/cli/revocation.ts) joined as a client with its own
 * credential. The list authenticates itself (the owner's signature, checked against the issuer
 * of this node's credential), so any admitted peer may hand one in; the channel only has to reach
 * a node. The node treats it as a list from gossip or its file (Admission.offer): a newer one is
 * kept, its revoked peers disconnected at once, and it is re-published on `$agentmesh/revocations`
 * for the others. The answer says what became of it, and a refusal is typed and audited:
 *
 * - forged (another owner or mesh, a bad signature) or malformed: SEC001 (`revocations.refused`);
 * - older than the list held: SEC005 `StaleRevocationsError` (`revocations.refused`): an older
 *   list never replaces a newer one, whoever hands it in;
 * - the very list held (same `issuedAt`): answered `taken: false`, so a repeated publish is harmless;
 * - an open node holds no list: CFG001.
 */
import { z } from 'zod'
import { defineCommand } from '../protocols/rpc/commands.js'
import type { RpcService } from '../protocols/rpc/index.js'
import { RevocationList } from '../protocols/admission/revocation.js'
import { StaleRevocationsError, type ConfigError, type NotAdmittedError } from '../protocols/core/errors.js'
import type { AuditSink } from '../protocols/core/audit.js'
import type { Admission } from './admission.js'

/** What `Admission.offer` made of a revocation list. */
export type RevocationVerdict =
  | { list: RevocationList, taken: true, expelled: number }
  | { list: RevocationList, held: RevocationList }
  | { refused: NotAdmittedError | ConfigError }

export const PublishRevocations = defineCommand('$agentmesh/revocations', {
  request: z.strictObject({ list: RevocationList }),
  response: z.strictObject({
    /** Whether this node took it (newer than what it held). */
    taken: z.boolean(),
    /** `issuedAt` of the list this node holds now. */
    held: z.number().int().nonnegative(),
    /** Admitted peers it disconnected for it. */
    expelled: z.number().int().nonnegative(),
    subjects: z.number().int().nonnegative(),
    serials: z.number().int().nonnegative()
  })
})

export function handleRevocations (rpc: RpcService, admission: Admission, audit: AuditSink): void {
  rpc.handle(PublishRevocations, async ({ list }, ctx) => {
    const verdict = await admission.offer(list, `rpc from ${ctx.peer}`)
    if ('refused' in verdict) throw verdict.refused
    const counts = { subjects: verdict.list.subjects.length, serials: verdict.list.serials.length }
    if ('taken' in verdict) return { taken: true, held: verdict.list.issuedAt, expelled: verdict.expelled, ...counts }
    const held = verdict.held.issuedAt
    if (held === verdict.list.issuedAt) return { taken: false, held, expelled: 0, ...counts }
    const why = `this node holds a newer revocation list (issued ${new Date(held).toISOString()}, this one ${new Date(verdict.list.issuedAt).toISOString()}): ` +
      'extend the newest (agentmesh credential revoke --list <it>) and publish that'
    audit.record({ kind: 'revocations.refused', peer: ctx.peer, code: 'SEC005', reason: why.slice(0, 200), detail: { issuedAt: verdict.list.issuedAt, held } })
    throw new StaleRevocationsError(why)
  })
}
