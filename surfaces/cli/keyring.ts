// `agentmesh keyring install|use|remove|list`: the mesh keys of a running agent (node/keyring.ts),
// after Consul's keyring. The command joins as a client with its own credential, whose role must
// be `operator`, and asks one agent over rpc ($agentmesh/keyring, node/keyring-command.ts), as
// `revocation publish` does; `--to` names the agent. A rotation is: install the new key on every
// agent, then use it on every agent, then remove the old one everywhere (docs/security.md
// "Rotating the key"). The client itself dials with its own --psk: during a rotation either key works.
import { Command } from 'commander'
import { existsSync } from 'node:fs'
import { KeyringCommand, type KeyringRequest } from '../../node/keyring-command.js'
import { keyId } from '../../node/keyring.js'
import { keyOfPskFile } from '../../node/mesh-key.js'
import { readPsk } from '../../node/psk.js'
import { agentToAsk, clientNode, fail, nodeOptions, report } from './common.js'

/** A key file's key (checked as `--psk` is), or fail with the reason. */
async function keyOf (file: string): Promise<Uint8Array> {
  try {
    return keyOfPskFile(await readPsk(file))
  } catch (err) {
    return fail((err as Error).message)
  }
}

/** A key id as given, or the id of the key in the file of that name. */
async function idOf (ref: string): Promise<string> {
  if (/^[0-9a-f]{16}$/.test(ref) && !existsSync(ref)) return ref
  return keyId(await keyOf(ref))
}

function keyringRequest (name: string, description: string, argument: string | undefined, build: (arg: string) => Promise<KeyringRequest>): Command {
  const cmd = nodeOptions(new Command(name), 'client')
    .description(description)
    .option('--to <agent>', 'the agent to ask (peer id or name; default: the first agent met)')
    .option('--timeout <ms>', 'deadline of the request', '30000')
  if (argument !== undefined) cmd.argument(argument)
  return cmd.action(async (...args: any[]) => {
    const o = args[argument !== undefined ? 1 : 0]
    try {
      const req = await build(argument !== undefined ? args[0] : '')
      const client = await clientNode(o)
      try {
        const agent = await agentToAsk(client, o.to as string | undefined, 'ask for its keyring')
        const answer = await client.node.request(agent.peerId, KeyringCommand, req, { timeoutMs: Number(o.timeout) })
        const line = { event: 'keyring', op: req.op, peer: agent.peerId, name: agent.name, ...answer }
        const ring = answer.keys.map(k => `  ${k.id}${k.primary ? '  primary' : '         '}  ${k.connections} connection(s)`).join('\n')
        const what = req.op === 'list' ? '' : `${req.op} ${answer.id ?? ''}: ${answer.changed ? 'done' : 'nothing to do'}` +
          `${answer.closed > 0 ? `, ${answer.closed} connection(s) under it closed` : ''}; `
        const text = `${what}keyring of ${agent.name} (${agent.peerId})${answer.persisted ? '' : ' (not in a data directory: a restart forgets it)'}:\n${ring}`
        process.stdout.write(o.json === true ? JSON.stringify(line) + '\n' : text + '\n')
      } finally {
        await client.node.stop()
      }
    } catch (err) {
      report(err)
    }
  })
}

export function keyringCommand (): Command {
  return new Command('keyring')
    .description('the mesh keys (pre-shared keys) of a running agent: rotate with install everywhere, use everywhere, remove the old (docs/security.md)')
    .addCommand(keyringRequest('install', 'add a key to the agent\'s keyring: it then accepts connections under it too', '<file>',
      async (file) => ({ op: 'install', key: Buffer.from(await keyOf(file)).toString('hex') })))
    .addCommand(keyringRequest('use', 'make an installed key the agent\'s primary: its new connections use it', '<file|id>',
      async (ref) => ({ op: 'use', id: await idOf(ref) })))
    .addCommand(keyringRequest('remove', 'take a key (not the primary) out of the agent\'s keyring, closing the connections made with it', '<file|id>',
      async (ref) => ({ op: 'remove', id: await idOf(ref) })))
    .addCommand(keyringRequest('list', 'the agent\'s keys by id (a short hash, never the key), primary first', undefined,
      async () => ({ op: 'list' })))
}
