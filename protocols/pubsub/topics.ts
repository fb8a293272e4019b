import type { z } from 'zod'
import { ValidationError } from '../core/errors.js'

/** A topic with a typed payload: publishing validates with it, and so does every receiver. */
export interface Topic<S extends z.ZodType = z.ZodType> {
  readonly name: string
  readonly schema: S | undefined
}

export function defineTopic<S extends z.ZodType> (name: string, schema: S): Topic<S> {
  checkTopicName(name)
  return { name, schema }
}

export function toTopic (t: Topic | string): Topic {
  if (typeof t !== 'string') return t
  checkTopicName(t)
  return { name: t, schema: undefined }
}

/** Meshes share nothing: every gossip topic carries the mesh's name. */
export function gossipTopic (mesh: string, topic: string): string {
  return `agentmesh/${mesh}/${topic}`
}

/** A topic name gossip carries: 1-200 characters, no whitespace. A typed error (MSG001), so every surface answers it as bad input. */
export function checkTopicName (name: string): void {
  if (name.length === 0 || name.length > MAX_TOPIC_NAME || /\s/.test(name)) {
    throw new ValidationError(`invalid topic name ${JSON.stringify(name.length > 64 ? name.slice(0, 64) + '...' : name)}: 1-${MAX_TOPIC_NAME} characters, no whitespace`)
  }
}

export const MAX_TOPIC_NAME = 200
