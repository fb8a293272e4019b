import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { configKeys } from '../node/index.js'
import { DIST } from './helpers.js'

test('README opens with the two commands CI and users rely on, and documents every config key', async () => {
  const readme = await readFile(join(DIST, '..', 'README.md'), 'utf8')
  const ci = await readFile(join(DIST, '..', '.ci', 'run'), 'utf8')
  const block = /```sh\n([^`]*)```/.exec(readme)?.[1] ?? ''
  const [runLine, testLine] = block.trim().split('\n').map(l => l.replace(/\s+#.*$/, '').trim())
  assert.equal(runLine, 'npm ci && npm run demo')
  assert.equal(testLine, 'npm ci && npm test')
  assert.ok(ci.split('\n').includes(testLine), '.ci/run calls the README\'s test command')
  for (const k of configKeys()) {
    assert.ok(readme.includes(`| ${k.path.join('.')} | ${k.env} |`), `README documents ${k.path.join('.')}`)
  }
})
