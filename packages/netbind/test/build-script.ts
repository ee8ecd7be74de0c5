// The install script checks for the build tools first and names the Debian packages that
// provide the missing ones, instead of a raw node-gyp failure.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SCRIPT = fileURLToPath(new URL('../scripts/build-native.mjs', import.meta.url))

function run (tools: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'netbind-path-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const tool of tools) { writeFileSync(join(dir, tool), '#!/bin/sh\nexit 0\n'); chmodSync(join(dir, tool), 0o755) }
  return spawnSync(process.execPath, [SCRIPT], { env: { PATH: dir }, encoding: 'utf8' })
}

t.test('no compiler, make or python3: one line naming them and the packages', { skip: process.platform !== 'linux' ? 'Linux only' : false }, async t => {
  const r = run([])
  t.equal(r.status, 1)
  t.match(r.stderr, /^@rackboot\/netbind: cannot build the addon: python3, make, cc, c\+\+ not found\./)
  t.match(r.stderr, /sudo apt-get install -y python3 make gcc g\+\+, then run the install again\n$/)
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line')
})

t.test('only what is missing is named', { skip: process.platform !== 'linux' ? 'Linux only' : false }, async t => {
  const r = run(['python3', 'make'])
  t.equal(r.status, 1)
  t.match(r.stderr, /cc, c\+\+ not found/)
  t.match(r.stderr, /apt-get install -y gcc g\+\+,/)
})
