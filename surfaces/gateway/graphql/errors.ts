/**
 * GraphQL errors as clients get them: the spec's code in `extensions.code` (R-ERR), as every
 * other binding answers with it. An operation's typed error keeps its code and message; a
 * document that does not parse is MSG002, one that does not validate (unknown field, bad
 * argument, past a limit) MSG001; anything else is an internal error whose message is not shown.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql'
import { AgentMeshError } from '../../../protocols/core/errors.js'

export const INTERNAL = 'INTERNAL'

/** The code an error carries to the client. */
export function codeOf (err: GraphQLError): string {
  const original = err.originalError
  if (original instanceof AgentMeshError) return original.code
  if (original instanceof GraphQLError) return codeOf(original)
  if (original !== undefined && original !== null) return INTERNAL
  const given = err.extensions?.code
  return typeof given === 'string' ? given : 'MSG001'
}

/** The error as sent: internal errors say only that they are internal (the node's log has the rest). */
export function formatError (err: GraphQLError): GraphQLFormattedError {
  const code = codeOf(err)
  const original = err.originalError
  const f = err.toJSON()
  if (code === INTERNAL) return { ...f, message: 'internal error (see the node\'s log)', extensions: { code } }
  return { ...f, extensions: { ...f.extensions, code, ...(original instanceof AgentMeshError ? { name: original.name } : {}) } }
}

/** A syntax error from `parse`, as MSG002 (the document could not be read). */
export function syntaxError (err: unknown): GraphQLError {
  if (err instanceof GraphQLError) return new GraphQLError(err.message, { nodes: err.nodes, source: err.source, positions: err.positions, extensions: { code: 'MSG002' } })
  return new GraphQLError(String((err as Error)?.message ?? err), { extensions: { code: 'MSG002' } })
}
