/**
 * Pages of task records and statuses bounded by size as well as by count. A record carries its
 * metadata and up to 64 KiB of messages (schemas.ts, TASK_MESSAGES_MAX_BYTES), so 200 of them (a
 * replication page) could pass the 1 MiB message limit: a takeover's write-back then failed
 * every second and the new coordinator never took office, and ends not yet on a majority were
 * sent again in one batch that never fit (found by a review of issue 42's messages to a task:
 * twenty tasks with two 31 KiB messages each stopped the task service). Every message that
 * carries many records or statuses is cut here.
 */

/**
 * The most one page holds, as JSON text (characters: at most three bytes each in UTF-8, so a page
 * stays under 768 KiB, below the default 1 MiB message with its envelope and signatures). One
 * item alone may be larger; it then goes in a page of its own.
 */
export const PAGE_CHARS = 256 * 1024

/** Its JSON text's length: what it weighs in a message. */
export function weight (item: unknown): number { return JSON.stringify(item)?.length ?? 0 }

/** How many of `items`, from the first, fit one page (always at least one when there is one). */
export function fitting<T> (items: readonly T[], maxItems: number, maxChars = PAGE_CHARS): number {
  let chars = 0
  let n = 0
  for (const item of items) {
    if (n >= maxItems) break
    chars += weight(item)
    if (n > 0 && chars > maxChars) break
    n++
  }
  return n
}

/** `items` in pages of at most `maxItems` and `maxChars` each. */
export function pagesOf<T> (items: readonly T[], maxItems: number, maxChars = PAGE_CHARS): T[][] {
  const pages: T[][] = []
  for (let i = 0; i < items.length;) {
    const n = fitting(items.slice(i, i + maxItems), maxItems, maxChars)
    pages.push(items.slice(i, i + n))
    i += n
  }
  return pages
}
