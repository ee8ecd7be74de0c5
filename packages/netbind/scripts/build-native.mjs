#!/usr/bin/env node
// Builds build/Release/netbind.node with node-gyp, offline when the running Node ships its
// headers. Run as this package's `install` script (pnpm/npm run it for workspace packages)
// and by hand with `pnpm --filter @rackboot/netbind run build:native`.
//
// node-gyp downloads the headers tarball for process.version unless it is given --nodedir
// (its "use the prefix" shortcut is only on when Node was built with
// use_prefix_to_find_headers, which the Debian/NodeSource and nodejs.org builds are not).
// The addon uses only Node-API (ABI-stable), so any installed Node >= 20 headers work.
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const log = (msg) => process.stderr.write(`@rackboot/netbind: ${msg}\n`)

if (process.platform !== 'linux') {
  log(`skipping the native build: SO_BINDTODEVICE is Linux-only (platform ${process.platform}); ` +
    'createBoundSocket() will throw RB_NETBIND_UNAVAILABLE')
  process.exit(0)
}

/** A directory D such that D/include/node/node_api.h exists (node-gyp's --nodedir layout). */
function findNodeDir () {
  const explicit = process.env.npm_config_nodedir
  if (explicit !== undefined && explicit !== '') return explicit // an explicit choice always wins
  const candidates = [
    path.resolve(path.dirname(process.execPath), '..'), // <prefix>/bin/node → <prefix>: deb, tarball, nvm
    process.config.variables.node_prefix,
    '/usr',
    '/usr/local'
  ].filter(d => typeof d === 'string' && d !== '')
  const withHeaders = candidates.filter(d =>
    existsSync(path.join(d, 'include', 'node', 'node_api.h')) &&
    existsSync(path.join(d, 'include', 'node', 'common.gypi')))
  // Prefer the headers of exactly this Node; any Node-API headers will do otherwise.
  return withHeaders.find(d => headerVersion(d) === process.versions.node) ?? withHeaders[0]
}

function headerVersion (dir) {
  try {
    const h = readFileSync(path.join(dir, 'include', 'node', 'node_version.h'), 'utf8')
    const n = (k) => h.match(new RegExp(`#define NODE_${k}_VERSION (\\d+)`))?.[1]
    return `${n('MAJOR')}.${n('MINOR')}.${n('PATCH')}`
  } catch {
    return undefined
  }
}

/** [command, ...args] that runs node-gyp: the package manager's own copy first. */
function findNodeGyp () {
  // npm exports the path of its bundled node-gyp; pnpm puts its bundled node-gyp on PATH.
  const fromEnv = process.env.npm_config_node_gyp
  if (fromEnv !== undefined && fromEnv !== '' && existsSync(fromEnv)) {
    return /\.[cm]?js$/.test(fromEnv) ? [process.execPath, fromEnv] : [fromEnv]
  }
  const onPath = spawnSync('node-gyp', ['--version'], { stdio: 'ignore' })
  if (onPath.status === 0) return ['node-gyp']
  const npmBundled = [
    path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
  ]
  try {
    npmBundled.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'))
  } catch {}
  const found = npmBundled.find(p => existsSync(p))
  return found === undefined ? undefined : [process.execPath, found]
}

/** Commands node-gyp runs to build the addon, with the Debian package that provides each. */
const TOOLS = [['python3', 'python3'], ['make', 'make'], ['cc', 'gcc'], ['c++', 'g++']]

function onPath (cmd) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue
    try { accessSync(path.join(dir, cmd), constants.X_OK); return true } catch {}
  }
  return false
}

const missing = TOOLS.filter(([cmd]) => !onPath(cmd))
if (missing.length > 0) {
  log(`cannot build the addon: ${missing.map(([cmd]) => cmd).join(', ')} not found. rackboot's install compiles ` +
    `this small C addon (interface-bound DHCP sockets) and needs a C compiler, make and python3; on Debian/Ubuntu: ` +
    `sudo apt-get install -y ${[...new Set(missing.map(([, pkg]) => pkg))].join(' ')}, then run the install again`)
  process.exit(1)
}

const gyp = findNodeGyp()
if (gyp === undefined) {
  log('cannot find node-gyp (looked at $npm_config_node_gyp, PATH and npm\'s bundled copy); ' +
    'install it with `npm i -g node-gyp` and rerun `pnpm --filter @rackboot/netbind run build:native`')
  process.exit(1)
}
const nodeDir = findNodeDir()
const args = ['rebuild', '--release']
if (nodeDir !== undefined) {
  args.push(`--nodedir=${nodeDir}`)
  log(`building with local Node headers from ${path.join(nodeDir, 'include', 'node')}`)
} else {
  log('no local Node headers found (e.g. /usr/include/node); node-gyp will download them')
}
const [cmd, ...pre] = gyp
const r = spawnSync(cmd, [...pre, ...args], { cwd: pkgDir, stdio: 'inherit' })
if (r.error !== undefined) {
  log(`could not run node-gyp: ${r.error.message}`)
  process.exit(1)
}
process.exit(r.status ?? 1)
