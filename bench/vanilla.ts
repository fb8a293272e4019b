/**
 * The baseline: a vanilla libp2p 3 node set up the way the libp2p docs suggest (TCP, Noise,
 * yamux, identify, ping, gossipsub with a cheap fastMsgIdFn), one gossip message per message and
 * a new stream per request. The only change from the defaults is the one a local mesh needs to
 * deliver anything at all: no IP-colocation penalty (10 nodes on 127.0.0.1 score to -405).
 */
import '../node/polyfills.js'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'

export const ECHO = '/bench/echo/1.0.0'

export type Vanilla = Libp2p<{ pubsub: GossipSub, identify: any, ping: any }>

export async function createVanilla (): Promise<Vanilla> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 1000 },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        fastMsgIdFn: (m: any) => Buffer.from(m.from ?? []).toString('base64') + Buffer.from(m.seqno ?? []).toString('base64'),
        scoreParams: { IPColocationFactorWeight: 0 }
      })
    }
  }) as Vanilla
  await node.handle(ECHO, async (stream) => {
    const lp = lpStream(stream)
    const req = await lp.read()
    await lp.write(req)
    await stream.close()
  }, { maxInboundStreams: 256, maxOutboundStreams: 256 }) // 64 concurrent requests need > 32
  return node
}

/** One request on a fresh stream: the common vanilla pattern. */
export async function vanillaRequest (node: Vanilla, target: string | PeerId | ReturnType<typeof multiaddr>, body: Uint8Array): Promise<Uint8Array> {
  const to = typeof target === 'string' ? multiaddr(target) : target
  const stream = await node.dialProtocol(to, ECHO)
  const lp = lpStream(stream)
  await lp.write(body)
  const res = await lp.read()
  await stream.close()
  return res.subarray()
}
