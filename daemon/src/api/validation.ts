// Schema errors in API requests and imports as field errors: `body.macs[0]` and a sentence
// (the wording is schema-errors.ts's, shared with the config file and image manifests).
import { dottedPath, schemaProblems, type SchemaError } from '../schema-errors.js'

export type { SchemaError }
export { preview } from '../schema-errors.js'
export interface FieldError { field: string; message: string }

/** Field errors under `context` (`body`, `querystring`, `params`, or '' for an import row). */
export function describeSchemaErrors (errors: Iterable<SchemaError>, context: string, data?: unknown, schema?: unknown): FieldError[] {
  return schemaProblems(errors, data, schema).map(p => ({ field: dottedPath(context, p.path), message: p.message }))
}
