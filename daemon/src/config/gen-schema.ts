// Writes config/rackboot.schema.json from the TypeBox schema (`pnpm gen:schema`).
// A test fails when the committed file is stale.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ConfigSchema } from './schema.js'

export const SCHEMA_FILE = fileURLToPath(new URL('../../../config/rackboot.schema.json', import.meta.url))

export function schemaJson (): string {
  return JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...ConfigSchema }, null, 2) + '\n'
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, schemaJson())
  console.log(`wrote ${SCHEMA_FILE}`)
}
