/**
 * The MCP Server Card of `agentmesh mcp --http` (SEP-2127, the experimental server-card
 * extension): what a client reads before it connects — who the server is, where its Streamable
 * HTTP endpoint is, which protocol versions it speaks, and whether it wants a bearer token.
 *
 * Where: the extension reserves `GET <streamable-http-url>/server-card` (here /mcp/server-card)
 * and puts a domain's catalog of cards at /.well-known/mcp/catalog.json; the earlier
 * convention most published cards follow is /.well-known/mcp/server-card.json, served too.
 *
 * A card is public metadata (the extension: CORS `*`, cacheable, no credentials), so it is
 * served without the token and without the Host check that guards the endpoint itself: it
 * tells no more than that an agentmesh MCP endpoint is here and that it wants a token.
 * Tools and resources are not listed: the extension leaves them to tools/list.
 */
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js'
import { AGENTMESH_VERSION } from '../../protocols/core/version.js'

/** The card's path under the MCP endpoint (the extension's reserved location). */
export const SERVER_CARD_SUFFIX = '/server-card'
/** The earlier well-known location of a server's card. */
export const WELL_KNOWN_CARD = '/.well-known/mcp/server-card.json'
/** The domain's catalog of server cards. */
export const WELL_KNOWN_CATALOG = '/.well-known/mcp/catalog.json'

export const SERVER_CARD_SCHEMA = 'https://static.modelcontextprotocol.io/schemas/v2/server-card.schema.json'
export const SERVER_CARD_TYPE = 'application/mcp-server-card+json'

/** Reverse-DNS name with one slash, as the card's schema wants; the same name serverInfo gives at initialize. */
export const SERVER_CARD_NAME = 'io.github.agentmesh/agentmesh'

export interface ServerCard {
  $schema: string
  name: string
  version: string
  title: string
  description: string
  remotes: Array<{
    type: 'streamable-http'
    url: string
    supportedProtocolVersions: string[]
    headers?: Array<{ name: string, description: string, isRequired: boolean, isSecret: boolean }>
  }>
}

/** The card of the endpoint at `url` (http://host:port/mcp); `token`: it wants `Authorization: Bearer`. */
export function serverCard (url: string, token: boolean): ServerCard {
  return {
    $schema: SERVER_CARD_SCHEMA,
    name: SERVER_CARD_NAME,
    version: AGENTMESH_VERSION,
    title: 'agentmesh',
    // At most 100 characters (the schema's bound).
    description: 'A peer-to-peer mesh of software agents: its agents, commands, events and tasks as tools.',
    remotes: [{
      type: 'streamable-http',
      url,
      supportedProtocolVersions: [...SUPPORTED_PROTOCOL_VERSIONS],
      ...(token ? { headers: [{ name: 'Authorization', description: 'Bearer <token> (agentmesh mcp --http-token)', isRequired: true, isSecret: true }] } : {})
    }]
  }
}

/** The catalog of this host's cards: the one server. */
export function serverCatalog (cardUrl: string): unknown {
  const host = new URL(cardUrl).hostname
  return {
    specVersion: 'draft',
    entries: [{ identifier: `urn:air:${host}:agentmesh`, displayName: 'agentmesh', type: SERVER_CARD_TYPE, url: cardUrl }]
  }
}
