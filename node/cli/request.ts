import { Command } from 'commander'
import { clientNode, fail, nodeOptions, parseJsonArg, report, waitFor } from './common.js'

export function requestCommand (): Command {
  return nodeOptions(new Command('request'))
    .description('join the mesh, send a request to one agent (peer id or name), print the answer')
    .argument('<agent>', 'peer id or agent name')
    .argument('<command>', 'command name, e.g. echo or info')
    .argument('[payload]', 'JSON payload')
    .option('--timeout <ms>', 'deadline of the request', '30000')
    .action(async (agent: string, command: string, payloadText: string | undefined, o) => {
      try {
        const payload = parseJsonArg(payloadText, 'payload')
        const node = await clientNode(o)
        const isPeerId = /^(12D3Koo|Qm)[1-9A-HJ-NP-Za-km-z]+$/.test(agent)
        let peer = isPeerId ? agent : undefined
        if (peer !== undefined) {
          // Give bootstrap and peer exchange a moment to reach the agent; dialling it by id
          // needs its addresses, which arrive with its card.
          await node.joined({ peer, signal: AbortSignal.timeout(10_000) }).catch(() => {})
        } else {
          await waitFor(() => node.findAgents({ name: agent }).length > 0, 10_000)
          peer = node.findAgents({ name: agent })[0]?.peerId
          if (peer === undefined) { await node.stop(); fail(`no agent named "${agent}" found in the mesh`, 1) }
        }
        try {
          const answer = await node.request(peer, command, payload, { timeoutMs: Number(o.timeout) })
          process.stdout.write(JSON.stringify(o.json === true ? { event: 'answer', peer, command, answer } : answer, null, o.json === true ? 0 : 2) + '\n')
        } finally {
          await node.stop()
        }
      } catch (err) {
        report(err)
      }
    })
}
