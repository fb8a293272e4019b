/**
 * The `security` group of the configuration (node/config.ts takes it into its one schema):
 * admission by credentials signed by the mesh owner (docs/security.md).
 */
import { z } from 'zod'
import { DEFAULT_ADMISSION_TIMEOUT_MS, DEFAULT_AUDIT_KEEP, DEFAULT_KEY_GRACE_MS, DEFAULT_KEY_ROTATION_MS } from '../protocols/admission/constants.js'

export const SecurityConfig = z.strictObject({
  /**
   * 'closed' (the default, and the `lan` and `wan` presets') admits only peers that show a
   * credential of this node's own mesh owner, and needs one to start; 'open' (`--open`, the `local`
   * preset) admits any peer that knows the mesh name: local development and tests, said in a
   * warning at start and on /health. The preset sets it unless given (node/presets.ts).
   */
  mode: z.enum(['open', 'closed']).default('closed'),
  /**
   * Path of this node's credential file (`agentmesh credential issue`); required when closed.
   * Checked when the node is created (node/admission.ts loadSecurity), not here: a configuration
   * without one still parses, so its defaults can be shown, and the refusal can say how to get one.
   */
  credential: z.string().min(1).optional(),
  /** Path of a signed revocation list (`agentmesh credential revoke`), spread to the mesh at start. */
  revocations: z.string().min(1).optional(),
  /** A connected peer without a valid credential this long after connecting is disconnected. */
  admissionTimeoutMs: z.number().int().min(100).max(60_000).default(DEFAULT_ADMISSION_TIMEOUT_MS),
  /**
   * Path of the mesh's pre-shared key (libp2p pnet, `agentmesh mesh init` writes one): with it a
   * node completes no handshake with a host that lacks the key, before Noise. TCP and WebSockets only.
   */
  psk: z.string().min(1).optional(),
  /** Path of the JSON-lines audit log (admission, credentials and keys, refusals, limit breaches); none: kept in memory only. */
  auditLog: z.string().min(1).optional(),
  /** Audit entries kept in memory for the debug endpoint's `/audit`, newest first. */
  auditKeep: z.number().int().min(0).max(100_000).default(DEFAULT_AUDIT_KEEP),
  /** A sender's content key for sealed payloads (`encryptFor`) is replaced this often (R-SEC: a day). */
  keyRotationMs: z.number().int().min(1_000).max(366 * 24 * 3_600_000).default(DEFAULT_KEY_ROTATION_MS),
  /** A replaced content key still opens payloads this long, for messages in flight and late readers. */
  keyGraceMs: z.number().int().min(0).max(30 * 24 * 3_600_000).default(DEFAULT_KEY_GRACE_MS)
})
export type SecurityConfig = z.output<typeof SecurityConfig>
