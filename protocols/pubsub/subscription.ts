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
  /**
   * Messages waiting, from `head` on: taken by moving `head`, not by `shift()`, which copies the
   * rest of a long array each time (3% of a busy receiver's CPU with a consumer behind by thousands).
   */
  private buffer: Array<Message<T> | undefined> = []
  private head = 0
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
    if (this.buffer.length - this.head >= this.capacity) {
      this.take()
      this.onDrop()
    }
    this.buffer.push(msg)
  }

  /** The oldest message waiting; the array is compacted once half of it is taken. */
  private take (): Message<T> | undefined {
    if (this.head >= this.buffer.length) return undefined
    const msg = this.buffer[this.head]
    this.buffer[this.head++] = undefined
    if (this.head >= this.buffer.length) {
      this.buffer = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.head)
      this.head = 0
    }
    return msg
  }

  /** Stop receiving; a pending `next()` ends. Safe to call twice. */
  unsubscribe (): void {
    if (this.ended) return
    this.ended = true
    this.buffer = []
    this.head = 0
    this.onEnd()
    const w = this.waiter
    this.waiter = undefined
    w?.({ value: undefined, done: true })
  }

  get closed (): boolean { return this.ended }

  async next (): Promise<IteratorResult<Message<T>>> {
    const msg = this.take()
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
