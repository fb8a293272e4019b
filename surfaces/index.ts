/**
 * agentmesh: a peer-to-peer mesh for software agents on libp2p. The package's entry (`import
 * ... from 'agentmesh'`): the runtime (node/index.ts) with the surfaces composed over it
 * (compose.ts), so that a node created here serves the debug endpoint and the gateway its config
 * asks for. Nothing below surfaces/ imports this file.
 *
 *   const node = await createAgentNode({ name: 'a1', listen: ['/ip4/127.0.0.1/tcp/0'] })
 *   await node.start()
 *   node.handle('echo', (req) => req)
 *   for await (const msg of node.subscribe('events')) console.log(msg.payload)
 */
export * from '../node/index.js'
// Takes the place of the runtime's factory of the same name (node/create-node.ts): that one, then the configured surfaces.
export { createAgentNode, attachSurfaces, type Surfaces } from './compose.js'
