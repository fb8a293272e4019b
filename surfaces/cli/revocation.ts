// `agentmesh revocation publish <file>`: hand a revocation list, signed offline by the mesh owner
// (`agentmesh credential revoke`), to a running mesh. The command joins as a client with its own
// credential and asks one agent over rpc ($agentmesh/revocations, node/revocation-command.ts);
// that agent checks the owner's signature and that the list is newer than the one it holds, then
// disconnects the revoked peers and spreads the list by gossip. Why rpc as a client rather than
// a node's debug endpoint or gateway: any agent can be reached this way (the debug endpoint is
// optional, usually on loopback, and its token is one more secret to hand out), the channel is
// the mesh's own admission (Noise, the operator's credential), the list authenticates itself, and
// the answer comes back typed (SEC001 forged, SEC005 stale), so a script knows it was taken.
import { Command } from 'commander'
import { readFile } from 'node:fs/promises'
import { PublishRevocations } from '../../node/revocation-command.js'
import { agentToAsk, clientNode, fail, nodeOptions, report } from './common.js'

async function readList (file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'))
  } catch (err) {
    return fail(`cannot read the revocation list ${file}: ${(err as Error).message}`)
  }
}

function publish (): Command {
  return nodeOptions(new Command('publish'), 'client')
    .description('join a closed mesh as a client and hand a signed revocation list to a running agent, which checks it, disconnects the revoked peers and spreads it')
    .argument('<file>', 'the signed list (agentmesh credential revoke --list <file>)')
    .option('--to <agent>', 'the agent to hand it to (peer id or name; default: the first agent met)')
    .option('--timeout <ms>', 'deadline of the request', '30000')
    .action(async (file: string, o) => {
      try {
        const list = await readList(file)
        const client = await clientNode(o)
        const { node } = client
        try {
          const agent = await agentToAsk(client, o.to as string | undefined, 'hand the list to')
          const answer = await node.request(agent.peerId, PublishRevocations, { list: list as never }, { timeoutMs: Number(o.timeout) })
          const held = new Date(answer.held).toISOString()
          const line = { event: 'revocations', peer: agent.peerId, name: agent.name, ...answer }
          const text = answer.taken
            ? `taken by ${agent.name} (${agent.peerId}): ${answer.subjects} peer(s) and ${answer.serials} credential(s) revoked, issued ${held}; ` +
              `${answer.expelled} disconnected there, the others as the list spreads`
            : `${agent.name} (${agent.peerId}) already holds this list (issued ${held}): nothing to do`
          process.stdout.write(o.json === true ? JSON.stringify(line) + '\n' : text + '\n')
        } finally {
          await node.stop()
        }
      } catch (err) {
        report(err)
      }
    })
}

export function revocationCommand (): Command {
  return new Command('revocation')
    .description('revocation lists of a closed mesh: hand one, signed offline, to the running mesh (docs/security.md)')
    .addCommand(publish())
}
