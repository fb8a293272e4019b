/**
 * The lifecycle every part of a node has: the node keeps its services in one ordered list,
 * starts them in order and stops them in reverse (as libp2p does with its components). Both
 * calls are safe to make twice: a second start() of a started service and a second stop() of a
 * stopped one do nothing.
 */
export interface Startable {
  start: () => void | Promise<void>
  stop: () => void | Promise<void>
}
