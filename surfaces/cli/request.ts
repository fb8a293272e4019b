import { Command } from 'commander'
import { agentNamed, clientNode, closeNames, nodeOptions, parseJsonArg, report, unlessUnreachable, within } from './common.js'

/** How long to look for the agent asked: bootstrap, then peer exchange bring the cards in. */
const FIND_MS = 10_000

export function requestCommand (): Command {
  return nodeOptions(new Command('request'), 'client')
    .description('join the mesh as a client, send a request to one agent (peer id or name), print the answer')
    .argument('<agent>', 'peer id or agent name')
    .argument('<command>', 'command name, e.g. echo or info')
    .argument('[payload]', 'JSON payload')
    .option('--timeout <ms>', 'deadline of the request', '30000')
    .action(async (agent: string, command: string, payloadText: string | undefined, o) => {
      try {
        const payload = parseJsonArg(payloadText, 'payload')
        const client = await clientNode(o)
        const { node } = client
        try {
          const isPeerId = /^(12D3Koo|Qm)[1-9A-HJ-NP-Za-km-z]+$/.test(agent)
          let peer = isPeerId ? agent : undefined
          if (peer !== undefined) {
            // Dialling an agent by id needs its addresses, which arrive with its card: wait for
            // it a while, then try anyway (the request says what went wrong).
            await node.joined({ peer, signal: within(client, FIND_MS) }).catch(unlessUnreachable(client))
          } else {
            peer = (await agentNamed(client, agent, FIND_MS))?.peerId
            if (peer === undefined) {
              const seen = [...new Set(node.peers().map(p => p.name))].sort()
              const close = closeNames(agent, seen)
              if (close.length > 0) throw new Error(`no agent named "${agent}" (did you mean ${close.map(n => `"${n}"`).join(' or ')}?); agents seen: ${seen.join(', ')}`)
              const foreign = [...new Set(node.foreignPeers().map(p => p.mesh))]
              const hint = foreign.length > 0 ? `; peers of another mesh answered (${foreign.map(m => `"${m}"`).join(', ')}): this one is "${node.config.mesh}", pass --mesh ${foreign[0]}` : ''
              // Seen no one, with a bootstrap peer that failed once but not yet twice (a loaded host's
              // second dial can come after this wait): its error is the likeliest reason, so say it.
              const failed = seen.length === 0 && hint === '' ? client.bootstrapFailures() : []
              const why = failed.length > 0 ? `; bootstrap peers that failed: ${failed.join('; ')}` : ''
              throw new Error(`no agent named "${agent}"; agents seen: ${seen.length > 0 ? seen.join(', ') : 'none'}${hint}${why}`)
            }
          }
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
