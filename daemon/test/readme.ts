// Keeps README.md true: the generated key table is current, every error code and route is documented.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { README_FILE, readmeWithKeys } from '../src/config/gen-schema.js'
import { ERRORS } from '../src/errors.js'
import { build } from './helpers/build.js'

const readme = readFileSync(README_FILE, 'utf8')

t.test('the config key table is generated and current', async t => {
  t.equal(readme, readmeWithKeys(readme), 'run `pnpm gen:schema` and commit README.md')
})

t.test('every error code is documented', async t => {
  for (const code of [...Object.keys(ERRORS), 'RB_CONFIG_INVALID']) t.match(readme, `| \`${code}\` |`, code)
})

t.test('every API route is documented', async t => {
  const { app, auth } = await build(t)
  const doc = (await app.inject({ url: '/api/v1/openapi.json', headers: auth() })).json() as { paths: Record<string, Record<string, unknown>> }
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) t.match(readme, `${method.toUpperCase()} ${path}`, `${method.toUpperCase()} ${path}`)
  }
  t.match(readme, 'GET /docs')
  t.match(readme, 'GET /api/v1/openapi.json')
})

t.test('the two set-up commands are the ones CI runs', async t => {
  t.match(readme, 'npx -y pnpm@10 install && npx -y pnpm@10 start')
  t.match(readme, 'npx -y pnpm@10 install && npx -y pnpm@10 test')
  t.match(readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8'), 'npx -y pnpm@10 install && npx -y pnpm@10 test')
})
