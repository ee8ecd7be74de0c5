// Issue 12: the installed `rackboot` command runs, the ways a user starts it from the
// repository: the package manager's bin link, npx (local bin, no download) and pnpm exec.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, tempDir } from '../helpers/daemon.js'

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'daemon/package.json'), 'utf8')) as { version: string }).version

function sh (cmd: string, args: string[], cwd = ROOT) {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, npm_config_yes: 'false' } })
}

t.test('node_modules/.bin/rackboot, npx rackboot and pnpm exec rackboot all run the CLI', async t => {
  const linked = sh(join(ROOT, 'node_modules/.bin/rackboot'), ['--version'])
  t.same([linked.status, linked.stdout], [0, `${VERSION}\n`], `node_modules/.bin/rackboot: ${linked.stderr}`)
  const npx = sh('npx', ['--no-install', 'rackboot', '--version'])
  t.same([npx.status, npx.stdout], [0, `${VERSION}\n`], `npx --no-install rackboot: ${npx.stderr}`)
  // pnpm as the test run itself was started (CI: npx -y pnpm@10 test), else as the README says
  const execPath = process.env.npm_execpath ?? ''
  const pnpm = /pnpm/.test(execPath) ? sh(process.execPath, [execPath, 'exec', 'rackboot', '--version']) : sh('npx', ['-y', 'pnpm@10', 'exec', 'rackboot', '--version'])
  t.same([pnpm.status, pnpm.stdout.trim().split('\n').at(-1)], [0, VERSION], `pnpm exec rackboot: ${pnpm.stderr}`)
  const help = sh(join(ROOT, 'node_modules/.bin/rackboot'), ['machines', 'list', '--help'])
  t.same([help.status, help.stdout.split('\n')[0]], [0, 'Usage: rackboot machines list|ls [options]'])
})

t.test('the command says what to run when the daemon is not built', async t => {
  const dir = tempDir(t)
  mkdirSync(join(dir, 'bin'))
  copyFileSync(join(ROOT, 'daemon/bin/rackboot.js'), join(dir, 'bin', 'rackboot.js'))
  copyFileSync(join(ROOT, 'daemon/package.json'), join(dir, 'package.json'))
  const r = sh(process.execPath, [join(dir, 'bin', 'rackboot.js'), '--version'], dir)
  t.equal(r.status, 1)
  t.match(r.stderr, /^rackboot: not built yet \(daemon\/dist\/main\.js is missing\): run `npx -y pnpm@10 install`/)
})
