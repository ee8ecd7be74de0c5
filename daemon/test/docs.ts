// Keeps the docs true: generated parts current; every config key, API route and error code
// documented; the README's two set-up commands the ones CI runs.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { CLI_DOC, CONFIG_DOC, README_FILE, SCHEMA_FILE, cliDoc, configDocWithKeys, configKeys, readmeWithHelp, schemaJson } from '../src/gen-docs.js'
import { ERRORS } from '../src/errors.js'
import { build } from './helpers/build.js'

const read = (f: string) => readFileSync(f, 'utf8')
const API_DOC = new URL('../../docs/api.md', import.meta.url)

t.test('generated parts are current (run `pnpm gen:docs` and commit)', async t => {
  t.equal(read(SCHEMA_FILE), schemaJson(), 'config/rackboot.schema.json')
  t.equal(read(CONFIG_DOC), configDocWithKeys(read(CONFIG_DOC)), 'the key table of docs/configuration.md')
  t.equal(read(CLI_DOC), cliDoc(), 'docs/cli.md')
  t.equal(read(README_FILE), readmeWithHelp(read(README_FILE)), 'the README\'s CLI block is `rackboot --help`')
})

t.test('every config key is documented', async t => {
  const doc = read(CONFIG_DOC)
  for (const key of configKeys()) t.match(doc, `| \`${key}\` |`, key)
})

t.test('every error code is documented', async t => {
  const doc = readFileSync(API_DOC, 'utf8')
  for (const code of [...Object.keys(ERRORS), 'RB_CONFIG_INVALID', 'RB_BOOT_TOKEN_STALE', 'RB_DATADIR_LOCKED', 'RB_START_FAILED']) t.match(doc, `| \`${code}\` |`, code)
})

t.test('every API route is documented', async t => {
  const { app, auth } = await build(t)
  const doc = readFileSync(API_DOC, 'utf8')
  const openapi = (await app.inject({ url: '/api/v1/openapi.json', headers: auth() })).json() as { paths: Record<string, Record<string, unknown>> }
  for (const [path, ops] of Object.entries(openapi.paths)) {
    for (const method of Object.keys(ops)) t.match(doc, `${method.toUpperCase()} ${path}`, `${method.toUpperCase()} ${path}`)
  }
  for (const route of ['GET /docs', 'GET /docs/json', 'GET /docs/yaml', 'GET /api/v1/openapi.json']) t.match(doc, route)
})

t.test('every package.json script is documented', async t => {
  const scripts = Object.keys((JSON.parse(read(new URL('../../package.json', import.meta.url).pathname)) as { scripts: Record<string, string> }).scripts)
  const docs = [README_FILE, new URL('../../docs/development.md', import.meta.url).pathname, new URL('../../bench/README.md', import.meta.url).pathname].map(read).join('\n')
  for (const name of scripts) t.ok(name === 'postinstall' ? docs.includes('postinstall') : docs.includes(`pnpm ${name}`), `pnpm ${name}`)
})

t.test('the two set-up commands are the ones CI runs', async t => {
  const readme = read(README_FILE)
  t.match(readme, 'npx -y pnpm@10 install && npx -y pnpm@10 start')
  t.match(readme, 'npx -y pnpm@10 install && npx -y pnpm@10 test')
  t.match(readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8'), 'npx -y pnpm@10 install && npx -y pnpm@10 test')
})

t.test('the README is short and starts a newcomer: what, the two commands, the lab, then links', async t => {
  const readme = read(README_FILE)
  t.ok(readme.split('\n').length < 200, `${readme.split('\n').length} lines`)
  const order = ['## The two commands', '## A five-minute tour: the lab', '## Quick start on a real LAN', '## The CLI', '## Reference']
  t.same(order.map(h => readme.indexOf(h)).every((v, i, a) => v > 0 && (i === 0 || v > (a[i - 1] as number))), true, 'sections in this order')
  for (const m of readme.matchAll(/\]\((docs\/[a-z-]+\.md|bench\/README\.md|config\/[a-z.-]+)\)/g)) {
    t.doesNotThrow(() => readFileSync(new URL(`../../${m[1] as string}`, import.meta.url)), `link ${m[1] as string} exists`)
  }
})
