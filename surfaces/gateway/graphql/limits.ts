/**
 * How much one GraphQL document may ask for, checked as a validation rule, so a document past a
 * limit is refused with its reason before anything runs. Two measures, fragments expanded:
 *
 * - depth: the deepest chain of nested fields. agentmesh's own types nest three deep at most;
 *   introspection's types refer to each other (`__Type.ofType.ofType...`), so a deep
 *   introspection document is the way to make a small query cost a great deal (its nested
 *   lists are graphql-js's MaxIntrospectionDepthRule's, which runs with the specified rules).
 * - fields: every field selected, aliases counted (`a: agents b: agents ...` is many fields), so
 *   a wide document is as bounded as a deep one.
 */
import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type SelectionSetNode, type ValidationContext, type ValidationRule } from 'graphql'

export interface QueryLimits {
  maxDepth: number
  maxFields: number
}

interface Measure { depth: number, fields: number }

/**
 * The depth and the field count of a selection set, fragments expanded. Each fragment is measured
 * once (a document spreading a fragment that spreads the next one twice, thirty times over, is
 * measured in thirty steps, not a billion); a fragment cycle counts once: another rule refuses it.
 */
export function measure (
  set: SelectionSetNode, fragments: (name: string) => FragmentDefinitionNode | undefined, seen = new Set<string>(), memo = new Map<string, Measure>()
): Measure {
  let depth = 0
  let fields = 0
  for (const sel of set.selections) {
    let inner: Measure | undefined
    if (sel.kind === Kind.FIELD) {
      const sub = sel.selectionSet !== undefined ? measure(sel.selectionSet, fragments, seen, memo) : { depth: 0, fields: 0 }
      inner = { depth: sub.depth + 1, fields: sub.fields + 1 }
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      inner = measure(sel.selectionSet, fragments, seen, memo)
    } else {
      const name = sel.name.value
      inner = memo.get(name)
      if (inner === undefined) {
        const frag = fragments(name)
        if (frag === undefined || seen.has(name)) continue
        seen.add(name)
        inner = measure(frag.selectionSet, fragments, seen, memo)
        seen.delete(name)
        memo.set(name, inner)
      }
    }
    depth = Math.max(depth, inner.depth)
    fields += inner.fields
  }
  return { depth, fields }
}

/** A validation rule refusing an operation deeper or wider than `limits` (code MSG001 in extensions). */
export function queryLimits (limits: QueryLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition (node) {
      const m = measure(node.selectionSet, (name) => context.getFragment(name) ?? undefined)
      const what = node.name !== undefined ? `operation "${node.name.value}"` : 'the operation'
      if (m.depth > limits.maxDepth) {
        context.reportError(new GraphQLError(`${what} is ${m.depth} fields deep, over the limit of ${limits.maxDepth}`, { nodes: [node], extensions: { code: 'MSG001', limit: 'depth' } }))
      }
      if (m.fields > limits.maxFields) {
        context.reportError(new GraphQLError(`${what} selects ${m.fields} fields, over the limit of ${limits.maxFields}`, { nodes: [node], extensions: { code: 'MSG001', limit: 'fields' } }))
      }
    }
  })
}
