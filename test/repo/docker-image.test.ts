/**
 * The container image, built and run as docker/Dockerfile and docker/compose.yaml say, without a
 * Docker engine (none runs on this project's machines): the Dockerfile's stages replayed from its
 * own instructions in a temporary folder (test/repo/dockerfile-replay.ts: `npm ci`, `tsc -p
 * tsconfig.build.json`, the production install, the copies into the runtime layout), then
 * compose's bootstrap service started from the image's layout with the image's ENTRYPOINT and
 * ENV and the service's command and environment, judged ready by the image's own HEALTHCHECK,
 * and an agent service joined to it the way compose starts it (after the bootstrap is healthy).
 *
 * What differs from a real `docker compose up`, each for a reason: the ports (free ones instead
 * of 7001/7002/8001, since every service shares this host's network), the compose network's
 * names (`bootstrap` resolves to 127.0.0.1), the mesh name (unique, so that no other test's node
 * joins), the volume /data (a folder per service), and what the base image and root do (Node
 * comes from this machine, `mkdir /data && chown` and `USER node` are not replayed: listed below).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { mkdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { dockerfileText, replay, type Stage } from './dockerfile-replay.js'
import { DIST, freePort, Proc, uniqueMesh, waitFor, withTempDir } from '../helpers.js'

// js-yaml comes with eslint (a dev dependency) and has no types of its own here.
const yaml = createRequire(import.meta.url)('js-yaml') as { load: (s: string) => any }
const ROOT = join(DIST, '..')

/** The environment compose gives a service, on top of the image's ENV, made local (see the file's comment). */
interface Local { ports: Map<number, number>, volume: string, mesh: string, token: string, bootstrapPorts: Map<number, number> }
function serviceEnv (image: Stage, service: any, local: Local): Record<string, string> {
  const own = Object.entries<unknown>(service.environment ?? {}).map(([k, v]) => [k, String(v)])
  const env: Record<string, string> = { ...image.env, ...Object.fromEntries(own) }
  for (const [k, v] of Object.entries(env)) {
    let value = v.replace(/^\$\{AGENTMESH_DEBUG_TOKEN:\?[^}]*\}$/, local.token)
    // The service's own ports, and the bootstrap service's by its compose name.
    value = value.replace(/\/dns4\/bootstrap\/tcp\/(\d+)/g, (_, p: string) => `/ip4/127.0.0.1/tcp/${local.bootstrapPorts.get(Number(p)) ?? p}`)
    value = value.replace(/(tcp\/|:)(\d{4,5})\b/g, (all, pre: string, p: string) => local.ports.has(Number(p)) ? `${pre}${local.ports.get(Number(p))}` : all)
    for (const volume of image.volumes) if (value === volume || value.startsWith(`${volume}/`)) value = local.volume + value.slice(volume.length)
    env[k] = value
  }
  if (env.AGENTMESH_MESH !== undefined) env.AGENTMESH_MESH = local.mesh
  return env
}

test('the image builds from docker/Dockerfile and runs as docker/compose.yaml starts it: healthy by its HEALTHCHECK, an agent joined', { timeout: 15 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const stages = await replay(await dockerfileText(ROOT), { context: ROOT, dir, log: (l) => { console.log(l) } })
    const image = stages.at(-1) as Stage
    // What the replay cannot do, named: a new RUN in the image's stage must be looked at here.
    assert.deepEqual(image.notReplayed, ['mkdir -p /data && chown node:node /data && ln -s /app/dist/surfaces/cli/main.js /usr/local/bin/agentmesh'],
      'the runtime stage\'s RUN lines (root\'s work, not replayed)')
    assert.equal(image.user, 'node', 'the image runs as the unprivileged node user')
    assert.deepEqual(image.volumes, ['/data'])
    assert.ok(image.entrypoint !== undefined && image.entrypoint[0] === 'node', `ENTRYPOINT runs node: ${String(image.entrypoint)}`)
    assert.ok(image.healthcheck !== undefined && image.healthcheck[0] === 'node', 'HEALTHCHECK runs node')
    const app = join(image.root, image.workdir)
    // `agentmesh` on the PATH is a link to main.js, run through its #! line.
    const version = spawnSync(join(app, 'dist', 'surfaces', 'cli', 'main.js'), ['--version'], { encoding: 'utf8' })
    assert.equal(version.status, 0, `main.js runs as a command: ${version.stderr ?? String(version.error)}`)
    // The runtime layout has no compiler, test tool or source: the production install and the built dist only.
    const installed = JSON.parse(await readFile(join(app, 'node_modules', '.package-lock.json'), 'utf8')).packages as Record<string, { dev?: boolean }>
    assert.equal(installed['node_modules/typescript'], undefined, 'typescript is not in the image')
    assert.equal(installed['node_modules/eslint'], undefined, 'eslint is not in the image')

    const compose = yaml.load(await readFile(join(ROOT, 'docker', 'compose.yaml'), 'utf8'))
    const token = randomBytes(24).toString('hex')
    const mesh = uniqueMesh()
    const portsFor = async (): Promise<Map<number, number>> =>
      new Map(await Promise.all(image.expose.map(async (p): Promise<[number, number]> => [p, await freePort()])))
    const bootstrapPorts = await portsFor()
    const procs: Proc[] = []
    const start = async (name: string, ports: Map<number, number>): Promise<{ proc: Proc, env: Record<string, string> }> => {
      const service = compose.services[name]
      const volume = join(dir, `volume-${name}`)
      await mkdir(volume, { recursive: true })
      const env = serviceEnv(image, service, { ports, volume, mesh, token, bootstrapPorts })
      const command: string[] = service.command ?? image.cmd ?? []
      // `node` in the image is the Node of the base image; here, the one running this test (Proc's execPath).
      const proc = new Proc([...(image.entrypoint as string[]).slice(1), ...command], env, app)
      procs.push(proc)
      return { proc, env }
    }
    /** The image's HEALTHCHECK, run in the container's place: what compose's service_healthy waits for. */
    const healthy = async (env: Record<string, string>): Promise<boolean> => {
      const check = new Proc((image.healthcheck as string[]).slice(1), env, app)
      return await check.exited(10_000) === 0
    }
    try {
      const bootstrap = await start('bootstrap', bootstrapPorts)
      let lastCheck = false
      await waitFor(async () => (lastCheck = await healthy(bootstrap.env)) || bootstrap.proc.child.exitCode !== null, 'the bootstrap service to pass its HEALTHCHECK', 60_000)
      assert.ok(lastCheck, `bootstrap exited ${bootstrap.proc.child.exitCode}: ${bootstrap.proc.stderr}`)
      const agentService = Object.keys(compose.services).find(n => n !== 'bootstrap' && compose.services[n].depends_on?.bootstrap?.condition === 'service_healthy' && compose.services[n].command?.[0] === 'start')
      assert.ok(agentService !== undefined, 'compose has an agent service that waits for the bootstrap to be healthy')
      const agent = await start(agentService, await portsFor())
      const debug = bootstrap.env.AGENTMESH_DEBUG as string
      const url = `http://127.0.0.1:${debug.slice(debug.lastIndexOf(':') + 1)}/health`
      let health: any
      await waitFor(async () => {
        health = await (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).json()
        return health.peers?.some((p: any) => p.name === agentService) === true || agent.proc.child.exitCode !== null
      }, `${agentService} to show in the bootstrap's /health`, 60_000)
      assert.ok(health.peers.some((p: any) => p.name === agentService), `${agentService} exited ${agent.proc.child.exitCode}: ${agent.proc.stderr}`)
      assert.equal(health.name, 'bootstrap')
      assert.equal(health.version, JSON.parse(await readFile(join(app, 'package.json'), 'utf8')).version)
      assert.equal(await (await fetch(url)).status, 401, 'the debug endpoint, published by compose, wants its token')
      // `docker compose down`: SIGTERM to each; a node stops cleanly.
      for (const p of [agent.proc, bootstrap.proc]) {
        p.child.kill('SIGTERM')
        assert.equal(await p.exited(20_000), 0, p.stderr)
      }
    } finally {
      await Promise.all(procs.map(async p => { await p.stop() }))
    }
  })
})
