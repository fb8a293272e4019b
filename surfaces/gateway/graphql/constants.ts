/** The GraphQL binding's defaults, each with why. */
export const GRAPHQL_DEFAULTS = {
  /** Where it is served (HTTP and the graphql-ws WebSocket). */
  path: '/graphql',
  /**
   * Deepest field chain a document may select. agentmesh's own types nest three deep; the
   * standard introspection query (graphql-js getIntrospectionQuery, as GraphiQL and codegen
   * send it) is 15 deep. Introspection's list fields nested past three (`types { fields { type
   * { fields ...`) are refused by graphql-js's own MaxIntrospectionDepthRule.
   */
  maxDepth: 15,
  /** Fields a document may select, fragments expanded and aliases counted (the introspection query selects 220 to 230). */
  maxFields: 500,
  /** Live subscriptions on one graphql-ws connection (each holds a topic feed or a task follower). */
  maxSubscriptionsPerSocket: 100,
  /** An SSE subscription with nothing to say sends a comment this often, so proxies keep it open. */
  keepAliveMs: 15_000
} as const

export interface GraphqlOptions {
  path?: string
  maxDepth?: number
  maxFields?: number
  maxSubscriptionsPerSocket?: number
  keepAliveMs?: number
}
