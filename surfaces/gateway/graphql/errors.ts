/**
 * GraphQL errors as clients get them: the spec's code in `extensions.code` (R-ERR), as every
 * other binding answers with it. An operation's typed error keeps its code and message; a
 * document that does not parse is MSG002, one that does not validate (unknown field, bad
 * argument, past a limit) MSG001; anything else is an internal error whose message is not shown.
 * graphql-http and graphql-sse send what `clientError` makes (their `formatError` and `onNext`
 * hooks), graphql-ws what `formatError` makes.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql'
import { AgentMeshError } from '../../../protocols/core/errors.js'

export const INTERNAL = 'INTERNAL'

/**
 * The code an error carries to the client. A plain Error (not a GraphQLError) is graphql-http's
 * refusal of a request it could not read as GraphQL over HTTP: "Unparsable URL" (the variables
 * in a GET's URL are not JSON) is MSG002, a missing or mistyped parameter MSG001.
 */
export function codeOf (err: GraphQLError | Error): string {
  if (!(err instanceof GraphQLError)) return err.message.startsWith('Unparsable') ? 'MSG002' : 'MSG001'
  const original = err.originalError
  if (original instanceof AgentMeshError) return original.code
  if (original instanceof GraphQLError) return codeOf(original)
  if (original !== undefined && original !== null) return INTERNAL
  const given = err.extensions?.code
  return typeof given === 'string' ? given : 'MSG001'
}

/**
 * The error as sent, as a GraphQLError (what graphql-http's formatError returns): internal errors
 * say only that they are internal (the node's log has the rest).
 */
export function clientError (err: Readonly<GraphQLError | Error>): GraphQLError {
  const code = codeOf(err)
  if (!(err instanceof GraphQLError)) return new GraphQLError(err.message, { extensions: { code } })
  const original = err.originalError
  const where = { nodes: err.nodes, source: err.source, positions: err.positions, path: err.path }
  if (code === INTERNAL) return new GraphQLError('internal error (see the node\'s log)', { ...where, extensions: { code } })
  const name = original instanceof AgentMeshError ? { name: original.name } : {}
  return new GraphQLError(err.message, { ...where, extensions: { ...err.extensions, code, ...name } })
}

/** The error as sent, formatted (graphql-ws's onError and onNext). */
export function formatError (err: GraphQLError): GraphQLFormattedError {
  return clientError(err).toJSON()
}

/** A syntax error from `parse`, as MSG002 (the document could not be read). */
export function syntaxError (err: unknown): GraphQLError {
  if (err instanceof GraphQLError) return new GraphQLError(err.message, { nodes: err.nodes, source: err.source, positions: err.positions, extensions: { code: 'MSG002' } })
  return new GraphQLError(String((err as Error)?.message ?? err), { extensions: { code: 'MSG002' } })
}
