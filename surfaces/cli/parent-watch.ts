/** How often a node started through npm looks whether npm is still there. */
const POLL_MS = 1_000

/**
 * The parent this process had when the CLI's modules loaded: read later (once the node started,
 * which takes a second or more), it is already the re-parenting process if npm was killed
 * meanwhile, and the watch would wait for a parent that never goes (the test loop caught it:
 * npm killed right after the ready line, the node ran on). npm killed before these modules
 * loaded (the process's first few hundred ms) cannot be told from a parent that is the init
 * process on purpose (npm as a container's first process): that node runs on.
 */
const PARENT_AT_LOAD = process.ppid

/**
 * `npx agentmesh start` stopped with `kill <pid of npx>`: npm exits without passing the signal on,
 * and the node would run on, orphaned, holding its ports. A node started through npm (npm exec
 * and npm run set these variables) therefore stops when its parent goes away (it is re-parented,
 * so its ppid changes). Started any other way (a shell, nohup, a service manager) it keeps
 * running as told: outliving its parent may be the point there.
 */
export function stopWithNpmParent (stop: () => void, env: NodeJS.ProcessEnv = process.env, parent = PARENT_AT_LOAD): () => void {
  if (env.npm_command === undefined && env.npm_lifecycle_event === undefined) return () => {}
  const gone = (): boolean => {
    if (process.ppid === parent) return false
    clearInterval(timer)
    process.stderr.write(`agentmesh: the npm process that started this node (pid ${parent}) exited: stopping\n`)
    stop()
    return true
  }
  const timer = setInterval(gone, POLL_MS)
  timer.unref()
  // Gone already (killed while the node started): stop now, not a poll later.
  gone()
  return () => { clearInterval(timer) }
}
