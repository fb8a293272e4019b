/**
 * GraphQL types derived from the operations' zod schemas (surfaces/operations/schemas.ts), through
 * their JSON Schema (z.toJSONSchema), so that what GraphQL declares is what the operations
 * validate: a field added to a schema shows up here without a second definition to keep in step.
 *
 * The mapping: string -> String; boolean -> Boolean; integer within 32 bits -> Int, any other
 * number -> Float (timestamps in ms and unbounded counters do not fit GraphQL's Int); a string
 * enum -> an enum type whose values are the upper-snake names of ours (`at-least-once` ->
 * AT_LEAST_ONCE, serialized back to ours); an object with properties -> an object (or input)
 * type named after its path; arrays -> lists; anything else (unknown, records, unions) -> JSON.
 * A required key is non-null (but JSON, which may be null); an input key with a default is optional.
 */
import {
  GraphQLBoolean, GraphQLEnumType, GraphQLFloat, GraphQLInputObjectType, GraphQLInt, GraphQLList, GraphQLNonNull,
  GraphQLObjectType, GraphQLScalarType, GraphQLString, Kind, valueFromASTUntyped,
  type GraphQLFieldConfigArgumentMap, type GraphQLFieldConfigMap, type GraphQLInputFieldConfigMap, type GraphQLInputType, type GraphQLOutputType
} from 'graphql'
import { z } from 'zod'

/** Any JSON value (payloads, results, metadata): sent and received as it is. */
export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value (a payload, a result, metadata), passed through as it is.',
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: (ast, variables) => ast.kind === Kind.NULL ? null : valueFromASTUntyped(ast, variables ?? undefined)
})

interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  enum?: unknown[]
  description?: string
  minimum?: number
  maximum?: number
  default?: unknown
}

const INT32 = 2 ** 31
const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/

function pascal (s: string): string {
  return s.split(/[^A-Za-z0-9]+/).filter(Boolean).map(p => p[0].toUpperCase() + p.slice(1)).join('')
}

/** The upper-snake GraphQL name of one of our enum values ('at-least-once' -> AT_LEAST_ONCE). */
export function enumName (value: string): string {
  return value.replace(/[^A-Za-z0-9]+/g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()
}

/**
 * Builds GraphQL types from zod schemas. One instance per GraphQL schema: it remembers the types
 * it made, so an enum met twice (the task states, the delivery modes) is one type, and a name
 * is never given to two different types.
 */
export class ZodGraphQL {
  private readonly enums = new Map<string, GraphQLEnumType>()
  private readonly named = new Map<string, GraphQLObjectType | GraphQLInputObjectType>()

  /** `enumNames` names the enums by their values ('submitted,assigned,...' -> 'TaskState'); others are named after their path. */
  constructor (private readonly enumNames: Record<string, string> = {}) {}

  /** An output object type for a zod object schema. */
  object (name: string, schema: z.ZodType, description?: string): GraphQLObjectType {
    const t = this.output(name, jsonSchema(schema, 'output'), description)
    const inner = t instanceof GraphQLNonNull ? t.ofType : t
    if (!(inner instanceof GraphQLObjectType)) throw new TypeError(`${name}: not an object schema`)
    return inner
  }

  /** An input object type for a zod object schema. */
  input (name: string, schema: z.ZodType, description?: string): GraphQLInputObjectType {
    const t = this.inputType(name, jsonSchema(schema, 'input'), description)
    const inner = t instanceof GraphQLNonNull ? t.ofType : t
    if (!(inner instanceof GraphQLInputObjectType)) throw new TypeError(`${name}: not an object schema`)
    return inner
  }

  /** Field arguments from a zod object schema: one argument per key (`prefix` names nested input types). */
  args (prefix: string, schema: z.ZodType): GraphQLFieldConfigArgumentMap {
    const js = jsonSchema(schema, 'input')
    const required = new Set(js.required ?? [])
    const out: GraphQLFieldConfigArgumentMap = {}
    for (const [key, prop] of Object.entries(js.properties ?? {})) {
      const t = this.inputType(prefix + pascal(key), prop)
      // A required JSON argument is nullable (null is a payload too), and omitted it is null: the
      // operation's schema requires the key, and `request(agent, command)` without a payload
      // was refused MSG001 where REST sends an empty body as null.
      const omittedIsNull = t === JSONScalar && required.has(key) && prop.default === undefined
      const type = nonNull(t, required.has(key) && prop.default === undefined)
      out[checkName(key)] = { type, description: prop.description, ...(omittedIsNull ? { defaultValue: null } : {}) }
    }
    return out
  }

  private output (name: string, js: JsonSchema, description?: string): GraphQLOutputType {
    const scalar = this.scalar(name, js)
    if (scalar !== undefined) return scalar
    if (js.type === 'array' && js.items !== undefined) return new GraphQLList(new GraphQLNonNull(this.output(name, js.items)))
    if (js.type === 'object' && js.properties !== undefined) {
      const props = js.properties
      const required = new Set(js.required ?? [])
      return this.once(name, () => new GraphQLObjectType({
        name,
        description: description ?? js.description,
        fields: () => {
          const fields: GraphQLFieldConfigMap<unknown, unknown> = {}
          for (const [key, prop] of Object.entries(props)) {
            const t = this.output(name + pascal(key), prop)
            fields[checkName(key)] = { type: required.has(key) && t !== JSONScalar ? new GraphQLNonNull(t) : t, description: prop.description }
          }
          return fields
        }
      })) as GraphQLObjectType
    }
    return JSONScalar
  }

  private inputType (name: string, js: JsonSchema, description?: string): GraphQLInputType {
    const scalar = this.scalar(name, js)
    if (scalar !== undefined) return scalar
    if (js.type === 'array' && js.items !== undefined) return new GraphQLList(new GraphQLNonNull(this.inputType(name, js.items)))
    if (js.type === 'object' && js.properties !== undefined) {
      const props = js.properties
      const required = new Set(js.required ?? [])
      return this.once(name, () => new GraphQLInputObjectType({
        name,
        description: description ?? js.description,
        fields: () => {
          const fields: GraphQLInputFieldConfigMap = {}
          for (const [key, prop] of Object.entries(props)) {
            const t = this.inputType(name + pascal(key), prop)
            fields[checkName(key)] = { type: nonNull(t, required.has(key) && prop.default === undefined), description: prop.description }
          }
          return fields
        }
      })) as GraphQLInputObjectType
    }
    return JSONScalar
  }

  private scalar (name: string, js: JsonSchema): GraphQLScalarType | GraphQLEnumType | undefined {
    if (Array.isArray(js.enum) && js.enum.every(v => typeof v === 'string')) return this.enumType(name, js.enum as string[], js.description)
    switch (js.type) {
      case 'string': return GraphQLString
      case 'boolean': return GraphQLBoolean
      case 'integer': return js.minimum !== undefined && js.maximum !== undefined && js.minimum >= -INT32 && js.maximum < INT32 ? GraphQLInt : GraphQLFloat
      case 'number': return GraphQLFloat
      default: return undefined
    }
  }

  private enumType (name: string, values: string[], description?: string): GraphQLEnumType {
    const key = values.join(',')
    const known = this.enums.get(key)
    if (known !== undefined) return known
    const t = new GraphQLEnumType({
      name: this.enumNames[key] ?? name,
      description,
      values: Object.fromEntries(values.map(v => [enumName(v), { value: v }]))
    })
    this.enums.set(key, t)
    return t
  }

  private once<T extends GraphQLObjectType | GraphQLInputObjectType> (name: string, make: () => T): T {
    const known = this.named.get(name)
    if (known !== undefined) return known as T
    const t = make()
    this.named.set(name, t)
    return t
  }
}

function jsonSchema (schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema
}

/** Required keys are non-null, except JSON ones: null is a JSON value a payload or a result may be. */
function nonNull (t: GraphQLInputType, required: boolean): GraphQLInputType {
  return required && t !== JSONScalar ? new GraphQLNonNull(t) : t
}

function checkName (key: string): string {
  if (!NAME.test(key)) throw new TypeError(`"${key}" cannot be a GraphQL field name`)
  return key
}
