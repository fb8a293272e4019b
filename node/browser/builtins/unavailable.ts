/**
 * What a browser node does when it reaches a part of Node.js it does not have (files, an HTTP
 * server, child processes): a ConfigError (CFG001) naming it. The browser entry refuses up front
 * every setting that leads there (node/browser.ts), so reaching one means a setting got past it.
 */
import { ConfigError } from '../../../protocols/core/errors.js'

export class UnavailableInBrowserError extends ConfigError {
  constructor (what: string) {
    super(`${what} is not available in a browser node (docs/browser.md lists what is)`)
    this.name = 'UnavailableInBrowserError'
  }
}

/** A function of a Node module that throws when called in a browser. */
export function unavailable (module: string, name: string): (...args: unknown[]) => never {
  return () => { throw new UnavailableInBrowserError(`${module} ${name}()`) }
}
