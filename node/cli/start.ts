import { Command } from 'commander'
import { createAgentNode } from '../agent-node.js'
import { configFrom, nodeOptions, onSignals, report } from './common.js'
import { printCoordinator, type Out } from './coordinator-lines.js'
import { stopWithNpmParent } from './parent-watch.js'

export function startCommand (): Command {
  return nodeOptions(new Command('start'))
    .description('run an agent node until interrupted; it answers the commands "echo" and "info"')
    .option('--debug <host:port>', 'serve the debug endpoint (loopback unless --debug-token is set)')
    .option('--debug-token <token>', 'bearer token required by the debug endpoint')
    .action(async (o) => {
      try {
        const config = await configFrom(o)
        const node = await createAgentNode(config)
        const json = o.json === true
        const out: Out = (event, text) => {
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
        await node.start()
        const debug = node.debugUrl ?? null
        const { warnings } = node.health()
        const security = config.security.mode === 'open'
          ? 'OPEN: any peer that knows the mesh name is admitted (local development only)'
          : `closed: credential ${node.security.credential?.serial ?? '?'}${config.security.psk !== undefined ? ', mesh key' : ', no mesh key (--psk)'}`
        out({ event: 'ready', peerId: node.peerId, name: node.name, addresses: node.addresses(), debug, security: config.security.mode, warnings },
          [
            `agentmesh ${node.name} ready`,
            `  peer id  ${node.peerId}`,
            ...node.addresses().map(a => `  listen   ${a}`),
            `  debug    ${debug ?? '(off: --debug host:port)'}`,
            `  security ${security}`
          ].join('\n'))
        const quiet = printCoordinator(node, out)
        const stop = onSignals(async () => { quiet(); await node.stop() })
        stopWithNpmParent(stop)
      } catch (err) {
        report(err)
      }
    })
}
