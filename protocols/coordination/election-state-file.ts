/**
 * The election's durable state (term, vote, voter set) in one JSON file, written atomically
 * (a temporary file, fsynced, then renamed) before any message that depends on it leaves the
 * node. Raft's rule: a vote that could not be stored is never granted, so `save` throws and the
 * caller refuses.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { z } from 'zod'
import { ConfigError } from '../core/errors.js'
import type { PersistedElection } from './election-types.js'
import { PeerIdSchema, TermSchema, VoterConfigSchema } from './election-wire.js'

const StateSchema = z.strictObject({
  term: TermSchema,
  votedFor: PeerIdSchema.optional(),
  config: VoterConfigSchema.optional(),
  heldUntil: z.number().int().min(0).optional()
})

export class ElectionStateFile {
  constructor (readonly path: string) {}

  /** The state last saved, or undefined when there is no file yet; a damaged file is a ConfigError. */
  load (): PersistedElection | undefined {
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new ConfigError(`coordination state file ${this.path} cannot be read: ${(err as Error).message}`, { cause: err })
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      throw new ConfigError(`coordination state file ${this.path} is damaged: not JSON`, { cause: err })
    }
    const parsed = StateSchema.safeParse(json)
    if (!parsed.success) {
      throw new ConfigError(`coordination state file ${this.path} is damaged: ${parsed.error.issues[0]?.message ?? 'invalid'}`, { cause: parsed.error })
    }
    return parsed.data
  }

  /** Write and fsync (the file, then its directory); throws when the state could not be stored. */
  save (state: PersistedElection): void {
    const tmp = `${this.path}.tmp`
    const fd = openSync(tmp, 'w', 0o600)
    try {
      writeSync(fd, JSON.stringify(state))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.path)
    // The rename is a change of the directory: until the directory is synced, a power cut may
    // leave the old file in place (the vote acknowledged, then forgotten). A power cut on ext4
    // lost it so (test/node/power-cut.test.ts); kill -9 could not show it.
    const dir = openSync(dirname(this.path), 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
  }
}
