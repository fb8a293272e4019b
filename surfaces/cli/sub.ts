import { Command } from 'commander'
import { clientNode, nodeOptions, onSignals, onStdoutGone, report } from './common.js'

export function subCommand (): Command {
  return nodeOptions(new Command('sub'), 'client')
    .description('join the mesh as a client and print the events of a topic until interrupted')
    .argument('<topic>', 'topic name')
    .option('--count <n>', 'exit after this many messages')
    .action(async (topic: string, o) => {
      // Before anything starts: a signal while the client starts stops it (common.ts onSignals).
      const shutdown = onSignals()
      try {
        const client = await clientNode(o, shutdown)
        const { node } = client
        const sub = node.subscribe(topic)
        const stop = async (): Promise<void> => { sub.unsubscribe(); await node.stop() }
        shutdown.stopWith(stop)
        // Printing the events is what sub is for: with stdout's reader gone (`agentmesh sub t | head -1`)
        // it stops as if interrupted, exit 0, as `yes | head -1` ends.
        const stdoutGone = onStdoutGone(shutdown.stop)
        // A subscriber that never reached the mesh would wait for nothing: say why and stop.
        client.unreachable.addEventListener('abort', () => {
          stop().finally(() => report(client.unreachable.reason))
        })
        if (o.json === true) process.stdout.write(JSON.stringify({ event: 'subscribed', topic, peerId: node.peerId }) + '\n')
        else process.stderr.write(`subscribed to ${topic} as ${node.peerId}\n`)
        let n = 0
        const limit = o.count !== undefined ? Number(o.count) : Infinity
        for await (const msg of sub) {
          if (stdoutGone()) break
          const from = node.peers().find(p => p.peerId === msg.from)?.name ?? msg.from
          process.stdout.write(o.json === true
            ? JSON.stringify({ event: 'message', topic, from: msg.from, id: msg.envelope.id, payload: msg.payload }) + '\n'
            : `[${topic}] ${from}: ${JSON.stringify(msg.payload)}\n`)
          if (++n >= limit) break
        }
        await node.stop()
      } catch (err) {
        shutdown.failed(err)
      }
    })
}
