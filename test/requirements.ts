/**
 * Outside parts some tests need: Chromium (the live page), promtool (the /metrics exposition),
 * root with iproute2 (the network-namespace lab), root with a writable /sys/fs/cgroup (a node
 * under container-like CPU and memory limits), root with loop devices, util-linux and e2fsprogs
 * (a power cut under a data directory). On a machine without one, the test that needs
 * it is skipped with the reason and the install line, and the run stays green; with
 * AGENTMESH_TEST_REQUIRE=all (what .ci/run sets, after installing them) a missing part fails
 * the test instead, so CI never passes by skipping.
 *
 *   test('...', async (t) => {
 *     if (skipWithout(t, 'chromium')) return
 *     ...
 *   })
 *
 * AGENTMESH_TEST_REQUIRE also takes a comma-separated list of parts (e.g. `promtool,netns`).
 * AGENTMESH_TEST_CHROMIUM names another Chromium binary than /usr/bin/chromium.
 * AGENTMESH_TEST_PYTHON names the Python with the interop packages (python: a2a-sdk, mcp,
 * schemathesis) instead of interop/python/.venv/bin/python; python3 is the one on PATH.
 */
import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { cgroupUnavailable } from './cgroup.js'
import { netnsUnavailable } from '../harness/netns.js'
import { loopUnavailable } from './loop-disk.js'
import { BUNDLE_DIR, PACKAGE_ROOT, checkBundle } from '../surfaces/cli/bundle-check.js'

export type Part = 'chromium' | 'promtool' | 'nats-server' | 'netns' | 'cgroup' | 'loop' | 'python' | 'python3' | 'mcp-conformance' | 'go' | 'cli-bundle'

/**
 * The MCP conformance suite (@modelcontextprotocol/conformance) and the Node 22 that runs it:
 * AGENTMESH_TEST_MCP_CONFORMANCE names the suite's bin (its dist/index.js), AGENTMESH_TEST_NODE22
 * a Node 22 binary (default: this process's node when it is 22 or later).
 */
export const MCP_CONFORMANCE = {
  bin: process.env.AGENTMESH_TEST_MCP_CONFORMANCE ?? '',
  node: process.env.AGENTMESH_TEST_NODE22 ?? (Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : '')
}

/** The Chromium that playwright-core drives. */
export const CHROMIUM = process.env.AGENTMESH_TEST_CHROMIUM ?? '/usr/bin/chromium'

/** The Python with the interop packages of interop/python/requirements.txt (test/interop). */
export const PYTHON = process.env.AGENTMESH_TEST_PYTHON ?? fileURLToPath(new URL('../../interop/python/.venv/bin/python', import.meta.url))

/** Why `python -c code` fails, or undefined when it runs. */
function pythonRuns (python: string, code: string): string | undefined {
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 60_000 })
  if (r.error !== undefined) return `${python} cannot be run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`
  return r.status === 0 ? undefined : `${python} -c '${code}' exited with ${String(r.status)}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`
}

const PARTS: Record<Part, { what: string, install: string, check: () => string | undefined }> = {
  chromium: {
    what: 'Chromium, to show the live page to a headless browser',
    install: 'apt-get install chromium (Debian), or AGENTMESH_TEST_CHROMIUM=<path of a Chromium or Chrome binary>',
    check: () => {
      try {
        accessSync(CHROMIUM, constants.X_OK)
        return undefined
      } catch (err) {
        return `${CHROMIUM} cannot be run (${(err as NodeJS.ErrnoException).code ?? String(err)})`
      }
    }
  },
  promtool: {
    what: 'promtool, to check the /metrics exposition as Prometheus reads it',
    install: 'apt-get install prometheus (Debian; promtool comes with it), or promtool from a Prometheus release on PATH',
    check: () => {
      const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' })
      if (r.error !== undefined) return `promtool is not on PATH (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`
      return r.status === 0 ? undefined : `promtool --version exited with ${String(r.status)}`
    }
  },
  'nats-server': {
    what: 'nats-server, the broker the bench runs beside agentmesh',
    install: 'apt-get install nats-server (Debian), or nats-server from a NATS release on PATH',
    check: () => {
      const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' })
      if (r.error !== undefined) return `nats-server is not on PATH (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`
      return r.status === 0 ? undefined : `nats-server --version exited with ${String(r.status)}`
    }
  },
  netns: {
    what: 'network namespaces, to run each agent as its own host',
    install: 'run the tests as root, with iproute2 installed (apt-get install iproute2)',
    check: netnsUnavailable
  },
  'mcp-conformance': {
    what: 'the MCP conformance suite (@modelcontextprotocol/conformance) on Node 22, to check `agentmesh mcp --http` as the ecosystem does',
    install: 'npm install --prefix /tmp/node22 node@22 && npm install --prefix /tmp/mcp-conf @modelcontextprotocol/conformance@0.1.16, then ' +
      'AGENTMESH_TEST_NODE22=/tmp/node22/node_modules/.bin/node AGENTMESH_TEST_MCP_CONFORMANCE=/tmp/mcp-conf/node_modules/@modelcontextprotocol/conformance/dist/index.js',
    check: () => {
      if (MCP_CONFORMANCE.bin === '') return 'AGENTMESH_TEST_MCP_CONFORMANCE is not set'
      if (MCP_CONFORMANCE.node === '') return `AGENTMESH_TEST_NODE22 is not set and this node is ${process.version}`
      const r = spawnSync(MCP_CONFORMANCE.node, [MCP_CONFORMANCE.bin, '--version'], { encoding: 'utf8' })
      if (r.error !== undefined) return `${MCP_CONFORMANCE.node} cannot be run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`
      return r.status === 0 ? undefined : `${MCP_CONFORMANCE.bin} --version exited with ${String(r.status)}: ${r.stderr.slice(0, 200)}`
    }
  },
  cgroup: {
    what: 'a cgroup with CPU and memory limits, to run a node as a container with --cpus and --memory would',
    install: 'run the tests as root on a machine (or privileged container) whose /sys/fs/cgroup is writable',
    check: cgroupUnavailable
  },
  loop: {
    what: 'a loop device with ext4 on it, to cut the power under a data directory (the page cache lost, test/loop-disk.ts)',
    install: 'run the tests as root with /dev/loop-control and /dev/loop* (a container: --privileged), losetup and mount (Debian package mount) and mkfs.ext4 and e2fsck (e2fsprogs): apt-get install mount e2fsprogs',
    check: loopUnavailable
  },
  python: {
    what: 'Python 3.11 with the A2A and MCP Python SDKs and schemathesis (interop/python/requirements.txt), to drive the gateway and the MCP server with clients written elsewhere',
    install: 'python3 -m venv interop/python/.venv && interop/python/.venv/bin/pip install --require-hashes -r interop/python/requirements.txt (or AGENTMESH_TEST_PYTHON=<a python with them>)',
    check: () => pythonRuns(PYTHON, 'import a2a, mcp, schemathesis')
  },
  python3: {
    what: 'python3 on PATH, to run the standard-library example agent (examples/python-agent)',
    install: 'apt-get install python3 (Debian)',
    check: () => pythonRuns('python3', 'import sys; assert sys.version_info >= (3, 9)')
  },
  'cli-bundle': {
    what: 'the CLI\'s bundle made of this build (tools/bundle-cli.ts), which npm test and npm run build make after tsc',
    install: 'npm run build (or node dist/tools/bundle-cli.js after tsc)',
    check: () => checkBundle(PACKAGE_ROOT, BUNDLE_DIR).stale
  },
  go: {
    what: 'Go, to build the Go peer in interop/go (go-libp2p) and run it against TypeScript nodes',
    install: 'install Go 1.26.6 or later from https://go.dev/dl (go-libp2p-pubsub 0.19 needs it), then cd interop/go && go mod download',
    check: () => {
      const r = spawnSync('go', ['version'], { encoding: 'utf8' })
      if (r.error !== undefined) return `go is not on PATH (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`
      return r.status === 0 ? undefined : `go version exited with ${String(r.status)}`
    }
  }
}

const seen = new Map<Part, string | undefined>()

/** Why `part` cannot be used on this machine, or undefined when it can (checked once per run). */
export function missing (part: Part): string | undefined {
  if (!seen.has(part)) seen.set(part, PARTS[part].check())
  return seen.get(part)
}

/** Whether a missing `part` fails its test instead of skipping it (AGENTMESH_TEST_REQUIRE). */
export function required (part: Part, env: NodeJS.ProcessEnv = process.env): boolean {
  const wanted = (env.AGENTMESH_TEST_REQUIRE ?? '').split(',').map(s => s.trim())
  return wanted.includes('all') || wanted.includes(part)
}

/**
 * For the first line of a test that needs `parts`: when one is missing, skips the test (the
 * reason and the install line are printed with it) and returns true, so the test returns at
 * once; or, when the part is required, throws, failing the test. Returns false when all are there.
 */
export function skipWithout (t: Pick<TestContext, 'skip'>, ...parts: Part[]): boolean {
  for (const part of parts) {
    const why = missing(part)
    if (why === undefined) continue
    const { what, install } = PARTS[part]
    if (required(part)) {
      const setting = `AGENTMESH_TEST_REQUIRE=${process.env.AGENTMESH_TEST_REQUIRE ?? ''}`
      throw new Error(`this test needs ${what}: ${why}. ${setting} makes that a failure; install: ${install}`)
    }
    t.skip(`needs ${what}: ${why}; install: ${install}`)
    return true
  }
  return false
}
