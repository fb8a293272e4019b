// A contract-net auction: a dispatcher calls for proposals to deliver a parcel; four couriers
// bid what it would cost them; the cheapest in time wins and confirms, the others are told no.
// One courier is slow and bids after the deadline: its proposal is refused (NEG001).
//   node dist/examples/auction.js
import { z } from 'zod'
import { createAgentNode, type AgentNode } from 'agentmesh'

const Bid = z.strictObject({ cost: z.number().positive(), etaMinutes: z.number().int().positive() })
type Bid = z.infer<typeof Bid>

export async function main (): Promise<void> {
  const mesh = `auction-${process.pid}`
  // Open (nodes are closed by default): the agents of one example process trust each other, and
  // credentials would be the longest part of it. A real mesh is closed: README "Security", and
  // examples/local-mesh.ts, which makes its keys. Each node warns that it is open, on stderr.
  const base = { mesh, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'warn' as const, security: { mode: 'open' as const } }
  const dispatcher = await createAgentNode({ ...base, name: 'dispatcher' })
  await dispatcher.start()
  const couriers: AgentNode[] = []
  const offers: Record<string, Bid & { delayMs: number }> = {
    ada: { cost: 14, etaMinutes: 30, delayMs: 50 },
    bo: { cost: 9, etaMinutes: 45, delayMs: 120 },
    cy: { cost: 11, etaMinutes: 20, delayMs: 80 },
    dee: { cost: 5, etaMinutes: 25, delayMs: 1_600 } // the cheapest, but too slow to answer
  }
  try {
    for (const [name, offer] of Object.entries(offers)) {
      const c = await createAgentNode({ ...base, name, bootstrap: dispatcher.addresses() })
      c.negotiation.onCallForProposals<Bid>('deliver', {
        propose: async (cfp) => {
          await new Promise(resolve => setTimeout(resolve, offer.delayMs))
          console.log(`${name.padEnd(4)} bids ${offer.cost} to take ${String(cfp.task.parcel)} ${String(cfp.task.to)}`)
          return { cost: offer.cost, etaMinutes: offer.etaMinutes }
        },
        award: (_cfp, bid) => { console.log(`${name.padEnd(4)} confirms: on its way, ${bid.etaMinutes} min`); return { pickup: 'now' } }
      })
      c.addEventListener('negotiation', (e) => { if (e.detail.outcome !== 'awarded') console.log(`${name.padEnd(4)} hears: ${e.detail.outcome}`) })
      await c.start()
      couriers.push(c)
    }
    await dispatcher.joined({ min: couriers.length, signal: AbortSignal.timeout(10_000) })
    const name = (peer: string): string => couriers.find(c => c.peerId === peer)?.name ?? peer
    const r = await dispatcher.negotiation.contractNet<Bid>({
      subject: 'deliver',
      candidates: couriers.map(c => c.peerId),
      task: { parcel: 'parcel 17', to: 'to the harbour' },
      // Wide enough for the three in time on a busy machine (their answers take 50-120 ms, more when
      // the host is loaded: at 400 ms, beside two CPU burners, bo's bid came late). dee's comes 100 ms
      // past it, and is refused as late.
      replyWithinMs: 1_500,
      proposal: Bid,
      // Cheapest wins; a faster courier wins a tie.
      score: (b) => -b.cost - b.etaMinutes / 1000
    })
    console.log(`proposals in time: ${r.proposals.map(p => `${name(p.peer)}=${p.proposal.cost}`).join(', ')}`)
    console.log(`awarded to ${name(r.winner?.peer ?? '')} at ${r.winner?.proposal.cost ?? '?'}, answer ${JSON.stringify(r.winner?.result)}`)
    // The late courier hears its refusal; a late proposal that came after the call returned is in `r.late` by then.
    await new Promise(resolve => setTimeout(resolve, 1_000))
    console.log(`late: ${r.late.map(name).join(', ') || 'none'}`)
  } finally {
    await Promise.all(couriers.map(async c => { await c.stop() }))
    await dispatcher.stop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
