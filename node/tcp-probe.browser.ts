/**
 * The browser's twin of tcp-probe.ts: a page opens no bare TCP connection, so it never tells a
 * peer's exit, and a browser voter waits out the election timeout as before.
 */
export async function refusedEverywhere (_endpoints: Array<{ host: string, port: number }>, _signal: AbortSignal): Promise<boolean> {
  return false
}
