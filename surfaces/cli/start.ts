import { Command, Option } from 'commander'
import { createTracedNode } from './traced-node.js'
import { configFrom, nodeOptions, onSignals, onStdoutGone, reachableUrl } from './common.js'
import { printCoordinator, type Out } from './coordinator-lines.js'
import { stopWithNpmParent } from './parent-watch.js'
import { defaultDataDir } from '../../node/data-dir.js'

export function startCommand (): Command {
  return nodeOptions(new Command('start'))
    .description('run an agent node until interrupted; it answers the commands "echo" and "info"')
    .option('--debug <host:port>', 'serve the debug endpoint (loopback unless --debug-token is set)')
    .option('--debug-token <token>', 'bearer token required by the debug endpoint')
    .option('--gateway <host:port>', 'serve REST and WebSocket under /v1 for clients that are not libp2p nodes (loopback unless --gateway-token is set; port 0 picks one)')
    .option('--gateway-token <token>', 'bearer token required by the gateway')
    .option('--data-dir <dir>', 'the node\'s data directory: identity (unless --identity), election state, outbox, dedup window, dead letters ' +
      '(default ~/.agentmesh/<name>, or ~/.agentmesh/default without a name)')
    .addOption(new Option('--no-data-dir', 'keep everything in memory: a restart forgets the identity, the election\'s term and vote, and every message not yet delivered'))
    .action(async (o) => {
      // Before anything starts: a signal (or npm going away) while the node starts stops it,
      // as one after the start does (common.ts onSignals).
      const shutdown = onSignals()
      stopWithNpmParent(shutdown.stop)
      try {
        const gateway = { ...(o.gateway !== undefined ? { listen: o.gateway } : {}), ...(o.gatewayToken !== undefined ? { token: o.gatewayToken } : {}) }
        const flags = {
          ...(typeof o.dataDir === 'string' ? { dataDir: o.dataDir } : {}),
          ...(Object.keys(gateway).length > 0 ? { gateway } : {}),
          ...(o.verbose === true && o.logLevel === undefined ? { logLevel: 'info' } : {})
        }
        // On a terminal, a person reads stdout's lines: the ready block, then one line per agent that
        // joins or leaves and per coordinator change (README). The info logs under them, a dozen
        // pretty lines per join (issue 44: 104 lines in 12 s as four agents joined), come with -v,
        // --log-level, the variable, the file or --log-format json; warnings always show.
        const terminal = process.stderr.isTTY === true ? { logLevel: 'warn' } : {}
        let loaded = await configFrom(o, flags, terminal)
        // JSON logs (flag, variable or file) are asked for by a reader of logs, as -v is.
        if (loaded.logFormat === 'json' && Object.keys(terminal).length > 0) loaded = await configFrom(o, flags)
        const { dataDir: given, ...config } = loaded
        // --no-data-dir wins over the file and the variables; otherwise one directory per agent name (the library's default is memory).
        const dataDir = o.dataDir === false ? undefined : given ?? defaultDataDir(config.name)
        const node = await createTracedNode({ ...config, ...(dataDir !== undefined ? { dataDir } : {}) })
        let quiet = (): void => {}
        shutdown.stopWith(async () => { quiet(); await node.stop() })
        const json = o.json === true
        // A node is a service, not its output: with stdout's reader gone it runs on and prints
        // nothing more, as its logs stop once stderr is gone (pino drops them after EPIPE).
        const stdoutGone = onStdoutGone(() => {})
        const out: Out = (event, text) => {
          if (stdoutGone()) return
          process.stdout.write(json ? JSON.stringify({ ...event, ts: new Date().toISOString() }) + '\n' : text + '\n')
        }
        node.addEventListener('peer:join', (e) => {
          out({ event: 'peer:join', peerId: e.detail.peerId, name: e.detail.name }, `+ ${e.detail.name} joined (${e.detail.peerId})`)
        })
        node.addEventListener('peer:leave', (e) => {
          out({ event: 'peer:leave', peerId: e.detail.peerId, name: e.detail.name }, `- ${e.detail.name} left (${e.detail.peerId})`)
        })
        node.handle('echo', (req) => req)
        node.handle('info', () => node.health())
        await node.start({ signal: shutdown.signal })
        const debug = node.debugUrl ?? null
        const gatewayUrl = node.gatewayUrl ?? null
        const { warnings } = node.health()
        // The mesh, the mode and the key are what two nodes must agree on to see each other; a node
        // that differs in one sees no one and says nothing, so the ready block names all three (issue 44).
        // The key is the node's keyring: --psk, or what `agentmesh keyring` left in the data directory.
        const meshKey = node.keyring !== undefined
        const security = config.security.mode === 'open'
          ? 'OPEN: any peer that knows the mesh name is admitted (local development only)'
          : `closed: credential ${node.security.credential?.serial ?? '?'}`
        // The lines are read by a person: an address to open, not the wildcard the server is bound to (the JSON keeps that).
        const everywhere = (bound: string | undefined, within?: string): string =>
          bound === undefined ? '' : within !== undefined ? `${within}listening on every interface, ${bound}` : ` (listening on every interface, ${bound})`
        const debugAt = debug !== null ? reachableUrl(debug) : undefined
        const gatewayAt = gatewayUrl !== null ? reachableUrl(gatewayUrl) : undefined
        out({ event: 'ready', peerId: node.peerId, name: node.name, mesh: config.mesh, addresses: node.addresses(), debug, gateway: gatewayUrl, security: config.security.mode, meshKey, dataDir: dataDir ?? null, warnings },
          [
            `agentmesh ${node.name} ready`,
            `  mesh     ${config.mesh}`,
            `  peer id  ${node.peerId}`,
            ...node.addresses().map(a => `  listen   ${a}`),
            `  debug    ${debugAt !== undefined ? `${debugAt.url}${everywhere(debugAt.bound)}` : '(off: --debug host:port)'}`,
            ...(gatewayAt !== undefined ? [`  gateway  ${gatewayAt.url}/v1 (REST; WebSocket at ${gatewayAt.url.replace(/^http/, 'ws')}/v1/ws${everywhere(gatewayAt.bound, '; ')})`] : []),
            `  security ${security}`,
            `  mesh key ${meshKey ? 'yes (a host without it cannot connect)' : 'none (a node started with --psk cannot connect to this one)'}`,
            `  data     ${dataDir ?? '(in memory: --no-data-dir)'}`
          ].join('\n'))
        quiet = printCoordinator(node, out)
      } catch (err) {
        shutdown.failed(err)
      }
    })
}
