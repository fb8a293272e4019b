/**
 * `agentmesh mcp`: join the mesh and serve it to an LLM host as a Model Context Protocol server
 * (surfaces/mcp, docs/mcp.md): on stdin/stdout by default, as a host starts it from its `mcpServers`
 * config; or Streamable HTTP with --http host:port. Credentials as for any node: a closed mesh
 * needs --identity and --credential (or --open on an open one).
 *
 * The node is a member that never votes and offers no resources, not a client (`request`'s kind):
 * tasks go through the coordinator, whose heartbeats reach members only, so a client follows no
 * coordinator and could neither submit a task nor hear how it went. `--client` runs it as a
 * client anyway (unseen by the agents; the task tools then answer CRD002).
 */
import { Writable } from 'node:stream'
import { Command } from 'commander'
import { createAgentNode } from '../../node/create-node.js'
import { createTracedNode } from './traced-node.js'
import { attachSurfaces, type HttpServers } from '../compose.js'
import { splitHostPort } from '../http/listen.js'
import { MeshOperations } from '../operations/index.js'
import { MeshMcp, McpHttpServer } from '../mcp/index.js'
import { configFrom, fail, nodeOptions, onSignals, reachableUrl, type Client, type Shutdown } from './common.js'
import { watchBootstrap } from './join.js'
import { besideRunningNode } from './beside-node.js'
import { TASK_OPERATOR } from '../../protocols/task/access.js'

/** The node the MCP server runs through: loopback only and logs at warn unless told otherwise, as a client's. */
async function mcpNode (o: Record<string, any>, shutdown: Shutdown): Promise<Client & { http: HttpServers }> {
  const given = await configFrom(o, {
    client: o.client === true,
    // An MCP server comes and goes with its host: it must never be one of the voters a quorum counts on.
    coordination: { eligible: false },
    listen: o.listen ?? ['/ip4/127.0.0.1/tcp/0'],
    name: o.name ?? `mcp-${process.pid}`,
    ...(o.verbose === true && o.logLevel === undefined ? { logLevel: 'info' } : {})
  }, {
    logLevel: 'warn',
    roles: ['mcp'],
    // A front door of the mesh: it follows and cancels a task another MCP endpoint started
    // (protocols/task/access.ts). Claimed in an open mesh; a closed one grants it in the credential.
    capabilities: [TASK_OPERATOR],
    // Nothing of this machine is offered to the mesh's resource manager: the host's machine is not the mesh's.
    resources: { cpuCores: 0, memoryGb: 0, storageGb: 0, gpuUnits: 0 }
  })
  // In a running node's environment (docker exec), its data directory, identity and debug endpoint are the node's (beside-node.ts).
  const { config, note } = await besideRunningNode(given, { debug: o.debug })
  if (config.bootstrap.length === 0 && !config.mdns) fail('nothing to join: give --bootstrap <multiaddr> or allow mDNS')
  const node = await createTracedNode({ ...config }, createAgentNode)
  if (note !== undefined) node.log.info(note)
  // Its debug endpoint (--debug); on the --http address, the MCP endpoint shares its server (surfaces/http).
  const { http } = attachSurfaces(node)
  const watch = watchBootstrap(node, config.bootstrap)
  // A signal from here on stops the node, however far its start went.
  shutdown.stopWith(async () => { await node.stop() })
  await node.start({ signal: shutdown.signal })
  return { node, unreachable: watch.signal, bootstrapFailures: watch.failures, http }
}

/**
 * On stdio, stdout carries JSON-RPC and nothing else: a stray line (a library's console.log)
 * would break the host's parser. The protocol gets a stream onto the real stdout; every other
 * write to process.stdout goes to stderr, where the logs are.
 */
function protocolStdout (): Writable {
  const stdout = process.stdout
  const write = stdout.write.bind(stdout) as (chunk: unknown, encoding: BufferEncoding, cb: (err?: Error | null) => void) => boolean
  stdout.write = process.stderr.write.bind(process.stderr) as typeof stdout.write
  return new Writable({
    write (chunk, encoding, cb) { write(chunk, encoding, cb) }
  })
}

export function mcpCommand (): Command {
  return nodeOptions(new Command('mcp'), 'client')
    .description('join the mesh (a member that never votes and offers no resources) and serve it to an LLM host as a Model Context Protocol server: ' +
      'on stdin/stdout, or Streamable HTTP with --http (docs/mcp.md)')
    .option('--http <host:port>', 'serve Streamable HTTP at http://<host:port>/mcp instead of stdio; loopback unless a token is given')
    .option('--http-token <token>', 'bearer token HTTP clients must send; required to bind beyond loopback (or the AGENTMESH_MCP_TOKEN variable)')
    .option('--client', 'join as a client, as `agentmesh request` does: unseen by the agents, but following no coordinator (no task tools)')
    .option('--debug <host:port>', 'this node\'s debug endpoint (/health, /metrics with mcp_tool_call_seconds), e.g. 127.0.0.1:0')
    .option('--debug-token <token>', 'bearer token of the debug endpoint; required to bind it beyond loopback')
    .action(async (o) => {
      // Before anything starts: a signal while the node starts stops it (common.ts onSignals).
      const shutdown = onSignals()
      try {
        // Read, then removed: the config loader refuses AGENTMESH_ variables it does not know, and no child should inherit it.
        const token: string | undefined = o.httpToken ?? process.env.AGENTMESH_MCP_TOKEN
        delete process.env.AGENTMESH_MCP_TOKEN
        const stdio = o.http === undefined
        const out = stdio ? protocolStdout() : undefined
        const client = await mcpNode(o, shutdown)
        const { node } = client
        const ops = new MeshOperations(node)
        ops.start()
        const mcp = new MeshMcp({ ops, unreachable: client.unreachable, listSelf: false })
        const { host, port } = splitHostPort(String(o.http))
        const http = stdio ? undefined : new McpHttpServer({ mcp, listen: o.http, http: client.http.at(host, port), ...(token !== undefined ? { token } : {}) })
        const stop = async (): Promise<void> => {
          await mcp.close()
          await http?.stop()
          ops.stop()
          await node.stop()
        }
        shutdown.stopWith(stop)
        // The tools say it too (COM002), but the operator reading the host's log should see why first.
        client.unreachable.addEventListener('abort', () => { node.log.error({ err: client.unreachable.reason }, 'mesh unreachable: tools answer COM002 until a bootstrap peer answers') })
        if (out !== undefined) {
          const { closed } = await mcp.serveStdio(process.stdin, out)
          node.log.info({ peerId: node.peerId }, 'mcp server on stdio')
          // Someone trying it in a terminal would otherwise see nothing happen.
          if (process.stdin.isTTY === true) process.stderr.write('agentmesh mcp: speaking MCP (JSON-RPC) on stdin/stdout, for an MCP host to start (docs/mcp.md); Ctrl-C stops it\n')
          await closed
          await stop()
          process.exit(0)
        }
        const url = await (http as McpHttpServer).start()
        const reachable = reachableUrl(url)
        process.stdout.write(o.json === true
          ? JSON.stringify({ event: 'ready', url, peerId: node.peerId, name: node.name, token: token !== undefined, debug: node.debugUrl ?? null }) + '\n'
          : `agentmesh mcp: serving ${reachable.url}${reachable.bound !== undefined ? ` (listening on every interface, ${reachable.bound})` : ''} as ${node.peerId}` +
            `${token !== undefined ? ' (bearer token required)' : ''}\n`)
      } catch (err) {
        shutdown.failed(err)
      }
    })
}
