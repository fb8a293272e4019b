#!/usr/bin/env node
// The agentmesh command (program.ts), run from its bundle when the bundle is what the modules
// would run (bundle-check.ts), else from the modules themselves. AGENTMESH_CLI_MODULES=1 runs
// the modules whatever the bundle.
import { pathToFileURL } from 'node:url'
import { BUNDLE_DIR, PACKAGE_ROOT, checkBundle } from './bundle-check.js'
import { SERVING, exitOnSignalsWhileLoading } from './signals.js'

// A command that runs until stopped exits 0 on a signal while it loads, before it can start anything (signals.ts).
if (SERVING.has(process.argv[2] ?? '')) exitOnSignalsWhileLoading()
const { entry } = process.env.AGENTMESH_CLI_MODULES === '1' ? {} : checkBundle(PACKAGE_ROOT, BUNDLE_DIR)
await import(entry !== undefined ? pathToFileURL(entry).href : './program.js')
