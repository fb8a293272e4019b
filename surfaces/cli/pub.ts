import { Command } from 'commander'
import { clientNode, nodeOptions, parseJsonArg, report, unlessUnreachable, waitFor, within } from './common.js'

export function pubCommand (): Command {
  return nodeOptions(new Command('pub'), 'client')
    .description('join the mesh as a client, publish an event on a topic, and leave')
    .argument('<topic>', 'topic name')
    .argument('[payload]', 'JSON payload (a bare word is sent as a string)')
    .option('--count <n>', 'publish the payload this many times', '1')
    .option('--wait <ms>', 'how long to wait for a subscriber to be known', '5000')
    .action(async (topic: string, payloadText: string | undefined, o) => {
      try {
        const payload = parseJsonArg(payloadText, 'payload')
        const client = await clientNode(o)
        const { node } = client
        try {
          await node.joined({ signal: within(client, Number(o.wait)) }).catch(unlessUnreachable(client))
          // Connected, or stated in a member statement: a publish with none connected dials one (docs/pubsub.md).
          const known = (): number => { const p = node.topicPeers(topic); return new Set([...p.subscribers, ...p.stated]).size }
          const seen = await waitFor(() => known() > 0, Number(o.wait))
          const subscribers = known()
          const count = Number(o.count)
          for (let i = 0; i < count; i++) await node.publish(topic, payload)
          await node.flush()
          // Gossip writes are asynchronous: give them a moment to leave before the connection goes.
          await new Promise(resolve => setTimeout(resolve, 300))
          const line = { event: 'published', topic, count, subscribers }
          const text = `published ${count} on ${topic} (${line.subscribers} subscriber(s) known${seen ? '' : ', none seen in time'})`
          process.stdout.write(o.json === true ? JSON.stringify(line) + '\n' : text + '\n')
        } finally {
          await node.stop()
        }
      } catch (err) {
        report(err)
      }
    })
}
