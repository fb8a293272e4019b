/**
 * The `security` group of the configuration (node/config.ts takes it into its one schema):
 * admission by credentials signed by the mesh owner (docs/security.md).
 */
import { z } from 'zod'
import { DEFAULT_ADMISSION_TIMEOUT_MS } from '../protocols/admission/constants.js'

export const SecurityConfig = z.strictObject({
  /**
   * 'open' admits any peer of the mesh name (local development, the default for now); 'closed'
   * admits only peers that show a credential of this node's own mesh owner, and needs one.
   */
  mode: z.enum(['open', 'closed']).default('open'),
  /** Path of this node's credential file (`agentmesh credential issue`); required when closed. */
  credential: z.string().min(1).optional(),
  /** Path of a signed revocation list (`agentmesh credential revoke`), spread to the mesh at start. */
  revocations: z.string().min(1).optional(),
  /** A connected peer without a valid credential this long after connecting is disconnected. */
  admissionTimeoutMs: z.number().int().min(100).max(60_000).default(DEFAULT_ADMISSION_TIMEOUT_MS)
}).refine(s => s.mode === 'open' || s.credential !== undefined, {
  path: ['credential'],
  message: 'security.mode "closed" needs a credential: ask the mesh owner to run `agentmesh credential issue --peer <your peer id>` and give its file'
})
export type SecurityConfig = z.output<typeof SecurityConfig>
