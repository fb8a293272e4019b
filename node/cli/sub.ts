import { Command } from 'commander'
import { clientNode, nodeOptions, onSignals, report } from './common.js'

export function subCommand (): Command {
  return nodeOptions(new Command('sub'))
    .description('join the mesh and print the events of a topic until interrupted')
    .argument('<topic>', 'topic name')
    .option('--count <n>', 'exit after this many messages')
    .action(async (topic: string, o) => {
      try {
        const node = await clientNode(o)
        const sub = node.subscribe(topic)
        onSignals(async () => { sub.unsubscribe(); await node.stop() })
        if (o.json === true) process.stdout.write(JSON.stringify({ event: 'subscribed', topic, peerId: node.peerId }) + '\n')
        else process.stderr.write(`subscribed to ${topic} as ${node.peerId}\n`)
        let n = 0
        const limit = o.count !== undefined ? Number(o.count) : Infinity
        for await (const msg of sub) {
          const from = node.peers().find(p => p.peerId === msg.from)?.name ?? msg.from
          process.stdout.write(o.json === true
            ? JSON.stringify({ event: 'message', topic, from: msg.from, id: msg.envelope.id, payload: msg.payload }) + '\n'
            : `[${topic}] ${from}: ${JSON.stringify(msg.payload)}\n`)
          if (++n >= limit) break
        }
        await node.stop()
      } catch (err) {
        report(err)
      }
    })
}
