import { readFileSync } from 'node:fs'

/** agentmesh's own version, from package.json (two levels above dist/node). */
export const AGENTMESH_VERSION: string = (() => {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version
  } catch {
    return '0.0.0'
  }
})()
