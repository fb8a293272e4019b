// The cores and memory an agent offers by default: the machine's, cut to its cgroup's limits.
// Read from fixture directories laid out as /sys/fs/cgroup is (v2 and v1), and for real: a node
// started in a cgroup with a CPU quota and a memory limit announces them in its agent card.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { createAgentNode } from '../../surfaces/index.js'
import { cgroupLimits, machineCpuCores, machineMemoryGb } from '../../node/machine.js'
import { Cgroup, JOIN_CGROUP } from '../cgroup.js'
import { CLI, nodeOptions, Proc, uniqueMesh, waitFor, withTempDir } from '../helpers.js'
import { skipWithout } from '../requirements.js'

const GB = 2 ** 30
const V1_NO_LIMIT = '9223372036854771712'
const hostGb = Math.floor(totalmem() / GB * 10) / 10

/** Writes `files` (path from the fixture's root: content) and returns the paths to read them by. */
async function fixture (dir: string, self: string, files: Record<string, string>): Promise<{ root: string, self: string }> {
  const root = join(dir, 'cgroup')
  await mkdir(root, { recursive: true })
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true })
    await writeFile(join(root, path), text + '\n')
  }
  await writeFile(join(dir, 'self'), self)
  return { root, self: join(dir, 'self') }
}

test('cgroup v2: no limit is the machine; a quota of 1.5 CPUs offers 1 core, 512 MB offers 0.5 GB', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const free = await fixture(join(dir, 'a'), '0::/\n', { 'cgroup.controllers': 'cpu memory', 'cpu.max': 'max 100000', 'memory.max': 'max' })
    assert.deepEqual(cgroupLimits(free), {})
    assert.equal(machineCpuCores(free), availableParallelism())
    assert.equal(machineMemoryGb(free), hostGb)

    const limited = await fixture(join(dir, 'b'), '0::/\n', { 'cgroup.controllers': 'cpu memory', 'cpu.max': '150000 100000', 'memory.max': String(512 * 2 ** 20) })
    assert.deepEqual(cgroupLimits(limited), { cpus: 1.5, memoryBytes: 512 * 2 ** 20 })
    assert.equal(machineCpuCores(limited), 1)
    assert.equal(machineMemoryGb(limited), 0.5)
  })
})

test('cgroup v2: the process\'s own cgroup and its parents count, the tightest wins, and below one CPU still offers 1', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const paths = await fixture(dir, '0::/system.slice/agent.service\n', {
      'cgroup.controllers': 'cpu memory',
      'system.slice/cpu.max': '50000 100000',
      'system.slice/memory.max': String(3 * GB),
      'system.slice/agent.service/cpu.max': 'max 100000',
      'system.slice/agent.service/memory.max': String(2 * GB),
      // A sibling's limits are not this process's.
      'user.slice/memory.max': String(GB / 4)
    })
    assert.deepEqual(cgroupLimits(paths), { cpus: 0.5, memoryBytes: 2 * GB })
    assert.equal(machineCpuCores(paths), 1)
    assert.equal(machineMemoryGb(paths), Math.min(2, hostGb))
  })
})

test('cgroup v2 seen from a container without its own cgroup namespace: the host path is missing, the mount is the container', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const paths = await fixture(dir, '0::/docker/3f2a\n', { 'cgroup.controllers': 'cpu memory', 'cpu.max': '200000 100000', 'memory.max': String(GB) })
    assert.deepEqual(cgroupLimits(paths), { cpus: 2, memoryBytes: GB })
    // A path that climbs out of the mount reads the mount, never a directory beside it.
    const climbing = await fixture(join(dir, 'up'), '0::/../../cgroup-elsewhere\n', { 'cgroup.controllers': 'cpu memory', 'cpu.max': '300000 100000' })
    await fixture(join(dir, 'up', 'cgroup-elsewhere'), '', { 'cpu.max': '10000 100000' })
    assert.deepEqual(cgroupLimits(climbing), { cpus: 3 })
  })
})

test('cgroup v1: cfs quota over period and memory.limit_in_bytes, in each controller\'s own hierarchy; -1 and 2^63 are no limit', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const self = '12:memory:/docker/3f2a\n4:cpu,cpuacct:/docker/3f2a\n0::/\n'
    const limited = await fixture(join(dir, 'a'), self, {
      'cpu,cpuacct/docker/3f2a/cpu.cfs_quota_us': '250000',
      'cpu,cpuacct/docker/3f2a/cpu.cfs_period_us': '100000',
      'memory/docker/3f2a/memory.limit_in_bytes': String(1536 * 2 ** 20),
      'memory/memory.limit_in_bytes': V1_NO_LIMIT
    })
    assert.deepEqual(cgroupLimits(limited), { cpus: 2.5, memoryBytes: 1536 * 2 ** 20 })
    assert.equal(machineCpuCores(limited), Math.min(availableParallelism(), 2))
    assert.equal(machineMemoryGb(limited), Math.min(1.5, hostGb))

    // A host with one directory per controller (cpu here, no cpu,cpuacct) and nothing limited.
    const free = await fixture(join(dir, 'b'), '4:memory:/\n1:cpu:/\n', {
      'cpu/cpu.cfs_quota_us': '-1',
      'cpu/cpu.cfs_period_us': '100000',
      'memory/memory.limit_in_bytes': V1_NO_LIMIT
    })
    assert.deepEqual(cgroupLimits(free), { memoryBytes: Number(V1_NO_LIMIT) })
    assert.equal(machineCpuCores(free), availableParallelism())
    assert.equal(machineMemoryGb(free), hostGb)
  })
})

test('no cgroup file system (macOS, Windows, a bare chroot): the machine\'s cores and memory', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const paths = { root: join(dir, 'nothing'), self: join(dir, 'no-such-file') }
    assert.deepEqual(cgroupLimits(paths), {})
    assert.equal(machineCpuCores(paths), availableParallelism())
    assert.equal(machineMemoryGb(paths), hostGb)
  })
})

test('a node started in a cgroup of 1.5 CPUs and 1.5 GB announces 1 core and 1.5 GB in its agent card', { timeout: 3 * 60_000 }, async (t) => {
  if (skipWithout(t, 'cgroup')) return
  // This process, outside the test's cgroup, offers something else: 1.5 can only come from the cgroup.
  assert.notEqual(machineMemoryGb(), 1.5, 'the test needs a machine whose own memory is not 1.5 GB')
  const cgroup = Cgroup.create({ cpus: 1.5, memoryBytes: 1.5 * GB })
  const mesh = uniqueMesh()
  const watcher = await createAgentNode(nodeOptions(mesh, { name: 'watcher' }))
  let limited: Proc | undefined
  try {
    await watcher.start()
    limited = new Proc(['--import', JOIN_CGROUP, CLI, 'start', '--open', '--json', '--name', 'limited', '--mesh', mesh, '--no-mdns', '--log-level', 'silent',
      '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', watcher.addresses()[0]!], { AGENTMESH_TEST_CGROUP_PROCS: cgroup.procsFiles.join(',') })
    await limited.json(o => o.event === 'ready', 'the limited node to be ready')
    await waitFor(() => watcher.findAgents({ name: 'limited' }).length > 0, 'the watcher to see the limited node')
    const card = watcher.findAgents({ name: 'limited' })[0]!.card
    assert.deepEqual({ cpu: card.resources?.cpu_cores, memory: card.resources?.memory_gb }, { cpu: 1, memory: 1.5 })
  } finally {
    await limited?.stop()
    await watcher.stop()
    cgroup.remove()
  }
})
