/**
 * The benches' command lines: node's `parseArgs`, with `--help` answered by the options the bench
 * takes, and a wrong option (unknown, or a value missing) by the same list and exit code 2,
 * instead of a stack trace out of node's internals.
 */
import { basename } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'

export function benchArgs<T extends ParseArgsConfig> (config: T): ReturnType<typeof parseArgs<T>> {
  const argv = config.args ?? process.argv.slice(2)
  if (argv.includes('--help') && config.options?.help === undefined) {
    process.stdout.write(`${usage(config)}\n`)
    process.exit(0)
  }
  try {
    return parseArgs(config)
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw err
    process.stderr.write(`${(err as Error).message}\n${usage(config)}\n`)
    process.exit(2)
  }
}

/** `node dist/bench/X.js` and each option with its default. */
function usage (config: ParseArgsConfig): string {
  const script = process.argv[1] === undefined ? 'the bench' : `node dist/bench/${basename(process.argv[1])}`
  const options = Object.entries(config.options ?? {}).map(([name, o]) => {
    const value = o.type === 'string' ? ` VALUE${o.default !== undefined ? ` (default ${String(o.default)})` : ''}` : ''
    return `  --${name}${value}`
  })
  return [`usage: ${script}${config.allowPositionals === true ? ' [ARGS...]' : ''} [options]`, 'options:', ...(options.length > 0 ? options : ['  (none)']), '  --help'].join('\n')
}
