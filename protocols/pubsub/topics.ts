import type { z } from 'zod'

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

export function checkTopicName (name: string): void {
  if (name.length === 0 || name.length > 200 || /\s/.test(name)) {
    throw new TypeError(`invalid topic name "${name}": 1-200 characters, no spaces`)
  }
}
