import { readFileSync } from 'node:fs'

/** agentmesh's own version, from package.json (three levels above dist/protocols/core). */
export const AGENTMESH_VERSION: string = (() => {
  try {
    return JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version
  } catch {
    return '0.0.0'
  }
})()
