/**
 * agentmesh's version in a browser bundle (the browser build takes this file for version.ts):
 * a page has no package.json to read, so tools/build-browser.ts writes the version in.
 */
declare const AGENTMESH_BUILD_VERSION: string | undefined

export const AGENTMESH_VERSION: string = typeof AGENTMESH_BUILD_VERSION === 'string' ? AGENTMESH_BUILD_VERSION : '0.0.0'
