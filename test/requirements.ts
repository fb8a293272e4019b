/**
 * Outside parts some tests need: Chromium (the live page), promtool (the /metrics exposition),
 * root with iproute2 (the network-namespace lab), root with a writable /sys/fs/cgroup (a node
 * under container-like CPU and memory limits). On a machine without one, the test that needs
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
 */
import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import type { TestContext } from 'node:test'
import { cgroupUnavailable } from './cgroup.js'
import { netnsUnavailable } from '../harness/netns.js'

export type Part = 'chromium' | 'promtool' | 'netns' | 'cgroup' | 'go'

/** The Chromium that playwright-core drives. */
export const CHROMIUM = process.env.AGENTMESH_TEST_CHROMIUM ?? '/usr/bin/chromium'

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
  netns: {
    what: 'network namespaces, to run each agent as its own host',
    install: 'run the tests as root, with iproute2 installed (apt-get install iproute2)',
    check: netnsUnavailable
  },
  cgroup: {
    what: 'a cgroup with CPU and memory limits, to run a node as a container with --cpus and --memory would',
    install: 'run the tests as root on a machine (or privileged container) whose /sys/fs/cgroup is writable',
    check: cgroupUnavailable
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
