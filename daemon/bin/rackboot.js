#!/usr/bin/env node
// The installed `rackboot` command (package.json "bin"): runs the built entry point.
// Committed as plain JavaScript so that the package manager can link it at install time,
// before `tsc -b` has produced dist/.
import { existsSync } from 'node:fs'

const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(`rackboot: needs Node.js 20.19 or newer (this is ${process.version})\n`)
  process.exit(1)
}

const main = new URL('../dist/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write('rackboot: not built yet (daemon/dist/main.js is missing): run `npx -y pnpm@10 install` in the repository (it builds), or `npx -y pnpm@10 build`\n')
  process.exit(1)
}
await import(main.href)
