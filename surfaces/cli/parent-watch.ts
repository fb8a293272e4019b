/** How often a node started through npm looks whether npm is still there. */
const POLL_MS = 1_000

/**
 * `npx agentmesh start` stopped with `kill <pid of npx>`: npm exits without passing the signal on,
 * and the node would run on, orphaned, holding its ports. A node started through npm (npm exec
 * and npm run set these variables) therefore stops when its parent goes away (it is re-parented,
 * so its ppid changes). Started any other way (a shell, nohup, a service manager) it keeps
 * running as told: outliving its parent may be the point there.
 */
export function stopWithNpmParent (stop: () => void, env: NodeJS.ProcessEnv = process.env): () => void {
  if (env.npm_command === undefined && env.npm_lifecycle_event === undefined) return () => {}
  const parent = process.ppid
  const timer = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(timer)
    process.stderr.write(`agentmesh: the npm process that started this node (pid ${parent}) exited: stopping\n`)
    stop()
  }, POLL_MS)
  timer.unref()
  return () => { clearInterval(timer) }
}
