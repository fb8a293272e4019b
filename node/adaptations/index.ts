/**
 * Our adaptations of libp2p's parts, each applied to the nodes agentmesh builds and to nothing
 * else in the process (no prototype or class of a dependency is changed: test/node/adaptations/adaptations.test.ts
 * runs a host's own libp2p beside ours and checks). Each names the upstream version it was
 * measured on, has a test that fails when the code it relies on changes, and has its upstream
 * issue text in docs/upstream.md, so that it can go once upstream has the fix.
 */
export { quickNoiseLengths } from './noise-lengths.js'
export { halfWindowYamux } from './yamux-half-window.js'
export { corkSends } from './tcp-cork.js'
