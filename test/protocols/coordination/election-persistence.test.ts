/**
 * The election's durable state through real nodes: a vote that could not be stored is refused
 * (Raft never grants a vote it could not persist), and a node restarted with its identity and
 * state file comes back with its term and vote, so it cannot vote twice in one term. Votes are
 * asked with the election's own request command. No coordinator is elected here (bootstrapExpect
 * is above the mesh size), so nothing but the test's own requests moves the voter's term.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { ElectionCommand } from '../../../protocols/coordination/election-service.js'
import type { ElectionMessage } from '../../../protocols/coordination/election.js'
import { nodeOptions, stopAll, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

const coordination = { bootstrapExpect: 5, heartbeatIntervalMs: 50, electionTimeoutMinMs: 300, electionTimeoutMaxMs: 600 }

/** Ask `voter` for its vote in `term` as `candidate`; retried while the voter's start-up stickiness refuses every vote. */
async function askVote (candidate: AgentNode, voter: AgentNode, term: number): Promise<Extract<ElectionMessage, { type: 'vote-reply' }>> {
  const voters = [candidate.peerId, voter.peerId].sort()
  let reply: ElectionMessage | null = null
  await waitFor(async () => {
    reply = await candidate.request(voter.peerId, ElectionCommand, { type: 'vote', term, candidate: candidate.peerId, pre: false, config: { version: 1, term: term - 1, voters } })
    return reply?.type === 'vote-reply' && reply.reason !== 'leader-alive'
  }, 'a vote reply that is not the start-up refusal')
  assert.ok(reply !== null && (reply as ElectionMessage).type === 'vote-reply', `a vote reply: ${JSON.stringify(reply)}`)
  return reply as Extract<ElectionMessage, { type: 'vote-reply' }>
}

async function start (mesh: string, name: string, extra: Parameters<typeof nodeOptions>[1] = {}): Promise<AgentNode> {
  const node = await createAgentNode(nodeOptions(mesh, { name, coordination, ...extra }))
  await node.start()
  return node
}

test('election: a vote whose term and vote cannot be written to the state file is refused, not adopted, and reported', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const stateFile = join(dir, 'voter.coordination.json')
    let voter: AgentNode | undefined
    let candidate: AgentNode | undefined
    try {
      voter = await start(mesh, 'voter', { coordination: { ...coordination, stateFile } })
      candidate = await start(mesh, 'candidate', { bootstrap: voter.addresses() })
      await waitFor(() => voter!.peers().length === 1, 'the two nodes to meet')
      const errors: Error[] = []
      voter.coordination.addEventListener('error', (e) => { errors.push(e.detail.error) })
      // Root ignores permission bits: a directory where the file is to be renamed fails for anyone.
      await rm(stateFile, { force: true })
      await mkdir(stateFile)

      const refused = await askVote(candidate, voter, 7)
      assert.equal(refused.granted, false, 'a vote that could not be stored is refused')
      assert.equal(voter.coordinator().term, 0, 'the term of a vote that could not be stored is not adopted')
      assert.ok(errors.length >= 1, 'the failed write is reported as an error event')

      // The same request once the file can be written again: granted, and stored first.
      await rm(stateFile, { recursive: true })
      const granted = await askVote(candidate, voter, 7)
      assert.equal(granted.granted, true, `granted once the state can be stored: ${JSON.stringify(granted)}`)
      assert.equal(voter.coordinator().term, 7)
      assert.deepEqual(JSON.parse(await readFile(stateFile, 'utf8')), { term: 7, votedFor: candidate.peerId })
    } finally {
      await stopAll([candidate, voter])
    }
  })
})

test('election: a node restarted with its identity comes back with its term and vote from the state file, and does not vote twice in that term', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const identity = join(dir, 'voter.json')
    let voter: AgentNode | undefined
    let a: AgentNode | undefined
    let b: AgentNode | undefined
    try {
      voter = await start(mesh, 'voter', { identity })
      a = await start(mesh, 'a', { bootstrap: voter.addresses() })
      b = await start(mesh, 'b', { bootstrap: voter.addresses() })
      await waitFor(() => voter!.peers().length === 2, 'the three nodes to meet')
      assert.equal((await askVote(a, voter, 5)).granted, true, 'the first candidate of term 5 gets the vote')
      const second = await askVote(b, voter, 5)
      assert.equal(second.granted, false)
      assert.equal(second.reason, 'already-voted')

      const peerId = voter.peerId
      await voter.stop()
      voter = await start(mesh, 'voter', { identity, bootstrap: a.addresses() })
      assert.equal(voter.peerId, peerId, 'same identity')
      assert.equal(voter.coordinator().term, 5, 'the term came back from the state file')
      await waitFor(() => voter!.peers().length === 2, 'the restarted voter to rejoin')
      const again = await askVote(b, voter, 5)
      assert.equal(again.granted, false, 'a restarted voter does not vote twice in one term')
      assert.equal(again.reason, 'already-voted', 'refused for the vote it stored, not for another reason')
      assert.equal((await askVote(a, voter, 5)).granted, true, 'the candidate it voted for still has its vote (the vote came back)')
    } finally {
      await stopAll([a, b, voter])
    }
  })
})
