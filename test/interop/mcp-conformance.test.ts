/**
 * `agentmesh mcp --http` checked by the MCP project's own conformance suite
 * (@modelcontextprotocol/conformance, its server scenarios), against a running mesh: every
 * scenario that applies to a server other than the suite's fixture must pass, check by check.
 * Which scenarios apply and why the others do not: docs/mcp.md, "Conformance".
 *
 * Needs the suite and a Node 22 to run it (test/requirements.ts, part mcp-conformance).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MCP_CONFORMANCE, skipWithout } from '../requirements.js'
import { CLI, Proc, startMesh, stopAll, waitFor, withTempDir } from '../helpers.js'

/** The server scenarios that test what any MCP server offering tools and resources over Streamable HTTP must do. */
const APPLICABLE = ['server-initialize', 'ping', 'tools-list', 'resources-list', 'dns-rebinding-protection']

interface Check { id: string, status: string, errorMessage?: string }

/** Runs one scenario against `url`; its checks, as the suite wrote them to `dir`. */
async function scenario (name: string, url: string, dir: string): Promise<{ checks: Check[], output: string }> {
  const out = join(dir, name)
  const output = await new Promise<string>((resolve) => {
    execFile(MCP_CONFORMANCE.node, [MCP_CONFORMANCE.bin, 'server', '--url', url, '--scenario', name, '-o', out], { timeout: 60_000 }, (err, stdout, stderr) => {
      // A failed scenario exits non-zero: its checks say why, read below.
      resolve(`${stdout}${stderr}${err !== null ? `\n(${err.message})` : ''}`)
    })
  })
  const runs = await readdir(out).catch(() => [] as string[])
  assert.equal(runs.length, 1, `one result folder for ${name}; the suite printed: ${output}`)
  const checks = JSON.parse(await readFile(join(out, runs[0], 'checks.json'), 'utf8')) as Check[]
  return { checks, output }
}

test('the MCP conformance suite: initialize, ping, tools/list, resources/list and DNS-rebinding protection pass against agentmesh mcp --http', { timeout: 180_000 }, async (t) => {
  if (skipWithout(t, 'mcp-conformance')) return
  const nodes = await startMesh(1, () => ({ preset: 'local', coordination: { bootstrapExpect: 1 } }))
  const mcp = new Proc([CLI, 'mcp', '--mesh', nodes[0].config.mesh, '--no-mdns', '--preset', 'local', '--open', '--bootstrap', nodes[0].addresses()[0], '--http', '127.0.0.1:0', '--json'])
  try {
    await waitFor(() => nodes[0].coordinator().leader !== undefined, 'a coordinator', 30_000)
    const ready = await mcp.json(o => o.event === 'ready', 'the MCP endpoint ready', 30_000)
    await withTempDir(async (dir) => {
      for (const name of APPLICABLE) {
        const { checks, output } = await scenario(name, ready.url, dir)
        assert.ok(checks.length > 0, `${name} made no check: ${output}`)
        const failed = checks.filter(c => c.status !== 'SUCCESS')
        assert.deepEqual(failed, [], `${name}: ${failed.map(c => `${c.id} ${c.status} ${c.errorMessage ?? ''}`).join('; ')}`)
      }
    })
  } finally {
    await mcp.stop()
    await stopAll(nodes)
  }
  assert.equal(mcp.child.exitCode, 0, mcp.stderr)
})
