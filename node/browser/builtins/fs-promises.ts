/**
 * `node:fs/promises` in a browser bundle: the functions of it the node's modules import, each
 * failing with CFG001. Only files use them (the audit log, a config or credential file), and the
 * browser entry refuses those settings up front.
 */
import { unavailable } from './unavailable.js'

function rejecting (name: string): (...args: unknown[]) => Promise<never> {
  const fail = unavailable('node:fs/promises', name)
  return async (...args) => fail(...args)
}

export const readFile = rejecting('readFile')
export const open = rejecting('open')
export const mkdir = rejecting('mkdir')
export const chmod = rejecting('chmod')
