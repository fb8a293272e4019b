import type { Envelope } from '../envelope/index.js'

/** One message as a subscriber sees it. */
export interface Message<T = unknown> {
  topic: string
  payload: T
  /** The peer that published it: checked against the gossip signature. */
  from: string
  envelope: Envelope
  /** It came sealed (`encryptFor`) and this node opened it: `payload` and `envelope.payload` are the plain payload. */
  sealed?: boolean
}

/**
 * An async iterable of one topic's messages. The buffer is bounded: a consumer that stops
 * reading loses the oldest messages past `capacity` (counted), rather than the node's memory.
 */
export class Subscription<T = unknown> implements AsyncIterable<Message<T>> {
  readonly topic: string
  private readonly buffer: Array<Message<T>> = []
  private readonly capacity: number
  private waiter?: (r: IteratorResult<Message<T>>) => void
  private ended = false
  private readonly onEnd: () => void
  private readonly onDrop: () => void

  constructor (topic: string, capacity: number, onEnd: () => void, onDrop: () => void) {
    this.topic = topic
    this.capacity = capacity
    this.onEnd = onEnd
    this.onDrop = onDrop
  }

  /** Called by the node for each message; never blocks. */
  push (msg: Message<T>): void {
    if (this.ended) return
    if (this.waiter !== undefined) {
      const w = this.waiter
      this.waiter = undefined
      w({ value: msg, done: false })
      return
    }
    if (this.buffer.length >= this.capacity) {
      this.buffer.shift()
      this.onDrop()
    }
    this.buffer.push(msg)
  }

  /** Stop receiving; a pending `next()` ends. Safe to call twice. */
  unsubscribe (): void {
    if (this.ended) return
    this.ended = true
    this.buffer.length = 0
    this.onEnd()
    const w = this.waiter
    this.waiter = undefined
    w?.({ value: undefined, done: true })
  }

  get closed (): boolean { return this.ended }

  async next (): Promise<IteratorResult<Message<T>>> {
    const msg = this.buffer.shift()
    if (msg !== undefined) return { value: msg, done: false }
    if (this.ended) return { value: undefined, done: true }
    return await new Promise(resolve => { this.waiter = resolve })
  }

  [Symbol.asyncIterator] (): AsyncIterator<Message<T>> {
    return {
      next: async () => await this.next(),
      return: async () => { this.unsubscribe(); return { value: undefined, done: true } }
    }
  }
}
