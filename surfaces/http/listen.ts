/** Where a surface listens: host:port as the config gives it, and whether that host is this machine only. */
import { isIP } from 'node:net'

export function isLoopback (host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'))
}

export function splitHostPort (hp: string): { host: string, port: number } {
  const i = hp.lastIndexOf(':')
  return { host: hp.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hp.slice(i + 1)) }
}

/** host and port of gateway.listen; a bare port (or ":port") is loopback. */
export function listenAddress (listen: string): { host: string, port: number } {
  if (/^:?\d+$/.test(listen)) return { host: '127.0.0.1', port: Number(listen.replace(':', '')) }
  return splitHostPort(listen)
}
