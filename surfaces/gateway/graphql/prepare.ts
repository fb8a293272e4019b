/**
 * A GraphQL request parsed and validated the same way over HTTP, server-sent events and
 * graphql-ws (each library's `onSubscribe` hook calls `prepare`):
 * a document that does not parse is MSG002, one that does not validate or is past a limit
 * (limits.ts) is MSG001, and neither reaches execution.
 */
import {
  GraphQLError, getOperationAST, parse, specifiedRules, validate,
  type DocumentNode, type GraphQLSchema, type OperationDefinitionNode, type ValidationRule
} from 'graphql'
import { syntaxError } from './errors.js'
import { queryLimits, type QueryLimits } from './limits.js'

export interface GraphQLParams {
  query: string
  variables?: Record<string, unknown>
  operationName?: string
}

export type Prepared =
  | { ok: true, document: DocumentNode, operation: OperationDefinitionNode, params: GraphQLParams }
  | { ok: false, errors: readonly GraphQLError[] }

const MAX_QUERY_CHARS = 100_000

/** The parameters as graphql-http, graphql-sse and graphql-ws hand them over (nulls for what is absent). */
export function paramsOf (p: { query: string, variables?: Record<string, unknown> | null, operationName?: string | null }): GraphQLParams {
  return {
    query: p.query,
    ...(p.variables != null ? { variables: p.variables } : {}),
    ...(p.operationName != null ? { operationName: p.operationName } : {})
  }
}

export function prepare (schema: GraphQLSchema, limits: QueryLimits, params: GraphQLParams): Prepared {
  if (params.query.length > MAX_QUERY_CHARS) return { ok: false, errors: [bad(`the document is ${params.query.length} characters, over the limit of ${MAX_QUERY_CHARS}`)] }
  let document: DocumentNode
  try {
    // maxTokens bounds the parser's own work on a hostile document.
    document = parse(params.query, { maxTokens: 10_000 })
  } catch (err) {
    return { ok: false, errors: [syntaxError(err)] }
  }
  const rules: ValidationRule[] = [...specifiedRules, queryLimits(limits)]
  const errors = validate(schema, document, rules, { maxErrors: 20 })
  if (errors.length > 0) return { ok: false, errors }
  const operation = getOperationAST(document, params.operationName)
  if (operation === null || operation === undefined) {
    return { ok: false, errors: [bad(params.operationName !== undefined ? `no operation named "${params.operationName}"` : 'the document has several operations: say which in "operationName"')] }
  }
  return { ok: true, document, operation, params }
}

function bad (message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'MSG001' } })
}
