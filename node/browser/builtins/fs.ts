/**
 * `node:fs` in a browser bundle: the functions of it the node's modules import, each throwing
 * CFG001 when called. Only files use them (a revocation list watched on disk, the election's
 * state file), and the browser entry refuses those settings up front.
 */
import { unavailable } from './unavailable.js'

export const watchFile = unavailable('node:fs', 'watchFile')
export const unwatchFile = unavailable('node:fs', 'unwatchFile')
export const readFileSync = unavailable('node:fs', 'readFileSync')
export const openSync = unavailable('node:fs', 'openSync')
export const writeSync = unavailable('node:fs', 'writeSync')
export const fsyncSync = unavailable('node:fs', 'fsyncSync')
export const closeSync = unavailable('node:fs', 'closeSync')
export const renameSync = unavailable('node:fs', 'renameSync')
