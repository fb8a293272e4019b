/**
 * The shell's side of a join's hand-over (protocols/discovery/view-links.ts): a neighbour drops
 * this node for a newcomer and names it (`disconnect.next`), usually before the newcomer's
 * statement has reached this node. The ask waits for the newcomer to be a member here and goes
 * then; one that never becomes a member is never sent anything, and the view asks another.
 * Driven over a recording RPC layer, with the member view a set the test fills.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ViewLinks } from '../../../protocols/discovery/view-links.js'
import type { ViewMessage } from '../../../protocols/discovery/hyparview.js'
import type { RpcService } from '../../../protocols/rpc/index.js'
import { seededRandom } from '../../helpers.js'

const SEED = Number(process.env.AGENTMESH_TEST_SEED ?? 46)
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

interface World {
  links: ViewLinks
  members: Set<string>
  sent: Array<{ to: string, message: ViewMessage }>
  deliver: (from: string, message: ViewMessage) => Promise<void>
}

function world (): World {
  const members = new Set(['x', 'r1', 'r2'])
  const sent: Array<{ to: string, message: ViewMessage }> = []
  let handler: ((message: unknown, ctx: { peer: string, signal: AbortSignal }) => Promise<unknown>) | undefined
  const rpc = {
    handle: (_command: unknown, h: typeof handler) => { handler = h; return () => {} },
    request: async (to: string, _command: unknown, message: ViewMessage) => { sent.push({ to, message }); return {} }
  } as unknown as RpcService
  const links = new ViewLinks({
    self: 'me',
    rpc,
    member: p => members.has(p),
    members: () => [...members],
    connected: () => [...members],
    connectedSince: () => 1,
    quietFor: () => 0,
    dial: async () => {},
    hangUp: () => {},
    keep: () => true,
    dialTimeoutMs: 5_000,
    random: seededRandom(SEED)
  })
  links.start()
  const deliver = async (from: string, message: ViewMessage): Promise<void> => {
    await handler?.(message, { peer: from, signal: new AbortController().signal })
  }
  return { links, members, sent, deliver }
}

test('views: a drop naming a newcomer not yet a member here waits for its statement, then asks it; one that never becomes a member is sent nothing', { timeout: 60_000 }, async () => {
  console.log(`# seed ${SEED}`)
  const { links, members, sent, deliver } = world()
  try {
    await deliver('x', { type: 'neighbour', high: true })
    assert.ok(links.isActive('x'))
    // x drops this node for its newcomer n, whose statement has not come yet.
    await deliver('x', { type: 'disconnect', next: 'n' })
    await sleep(300)
    assert.ok(!sent.some(s => s.to === 'n'), 'nothing to a peer that is not a member here')
    // The statement comes: the ask goes.
    members.add('n')
    links.membersChanged()
    await sleep(50)
    assert.deepEqual(sent.filter(s => s.to === 'n').map(s => s.message), [{ type: 'neighbour', high: false }])
    // Another neighbour names one that never becomes a member: nothing is sent to it.
    await deliver('r1', { type: 'neighbour', high: true })
    await deliver('r1', { type: 'disconnect', next: 'ghost' })
    await sleep(3_500)
    assert.ok(!sent.some(s => s.to === 'ghost'), 'never a message to a stranger')
  } finally {
    links.stop()
  }
})
