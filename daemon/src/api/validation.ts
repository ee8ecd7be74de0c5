// Turns JSON-schema errors (Ajv's in Fastify, TypeBox's in imports: same shape) into
// messages that name the field and what was wrong with the value.
import { MAC_PATTERN } from '../net/ipv4.js'
import { HOSTNAME_PATTERN, LABEL_KEY_PATTERN } from './schemas.js'

export interface SchemaError { keyword: string; instancePath: string; params: Record<string, any>; message?: string }
export interface FieldError { field: string; message: string }

const PATTERN_NAMES: Array<[string, string]> = [
  [MAC_PATTERN, 'a MAC address (aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or aabbccddeeff)'],
  [HOSTNAME_PATTERN, 'a valid hostname (RFC 1123: letters, digits, dashes, dot-separated labels)'],
  [LABEL_KEY_PATTERN, 'a valid label key']
]

/** `/macs/0` under `body` → `body.macs[0]` */
export function fieldName (context: string, instancePath: string, extra?: string): string {
  let out = context
  const parts = instancePath === '' ? [] : instancePath.slice(1).split('/')
  if (extra !== undefined) parts.push(extra)
  for (const raw of parts) {
    const p = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    out += /^\d+$/.test(p) ? `[${p}]` : (out === '' ? p : `.${p}`)
  }
  return out === '' ? '(root)' : out
}

function valueAt (root: unknown, instancePath: string): unknown {
  let v: any = root
  if (instancePath === '') return v
  for (const p of instancePath.slice(1).split('/')) v = v?.[p.replace(/~1/g, '/').replace(/~0/g, '~')]
  return v
}

/**
 * A value as JSON for a message, cut at `max` characters: walks only as deep and as far as the
 * text needs, so a huge or deeply nested body cannot blow the stack or the time budget.
 */
export function preview (value: unknown, max = 80): string {
  let out = ''
  const put = (s: string): boolean => { out += s; return out.length < max }
  const walk = (v: unknown, depth: number): boolean => {
    if (v === null || typeof v === 'number' || typeof v === 'boolean') return put(String(v))
    if (typeof v === 'string') return put(JSON.stringify(v.length > max ? v.slice(0, max) : v))
    if (typeof v !== 'object') return put(JSON.stringify(String(v)))
    if (depth >= 8) return put('…')
    if (Array.isArray(v)) {
      if (!put('[')) return false
      for (let i = 0; i < v.length; i++) { if ((i > 0 && !put(',')) || !walk(v[i], depth + 1)) return false }
      return put(']')
    }
    if (!put('{')) return false
    let first = true
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue
      if ((!first && !put(',')) || !put(JSON.stringify(k.length > max ? k.slice(0, max) : k) + ':') || !walk((v as Record<string, unknown>)[k], depth + 1)) return false
      first = false
    }
    return put('}')
  }
  walk(value, 0)
  return out.length > max ? out.slice(0, max) : out
}

export function describeSchemaError (e: SchemaError, context: string, data?: unknown): FieldError {
  const value = data === undefined ? undefined : valueAt(data, e.instancePath)
  const shown = value === undefined ? '' : ` ${preview(value)}`
  switch (e.keyword) {
    case 'required': {
      const missing = e.params.missingProperty ?? e.params.requiredProperties?.[0]
      return { field: fieldName(context, e.instancePath, missing), message: 'is required' }
    }
    case 'additionalProperties': {
      const extra = e.params.additionalProperty ?? e.params.additionalProperties?.[0]
      return { field: fieldName(context, e.instancePath, extra), message: 'is not a known field' }
    }
    case 'pattern': {
      const name = PATTERN_NAMES.find(([p]) => p === e.params.pattern)?.[1]
      return { field: fieldName(context, e.instancePath), message: `${shown.trim()} is not ${name ?? `in the expected format (${String(e.params.pattern)})`}` }
    }
    case 'enum':
      return { field: fieldName(context, e.instancePath), message: `${shown.trim()} is not one of ${(e.params.allowedValues as unknown[]).map(v => JSON.stringify(v)).join(', ')}` }
    case 'type':
      return { field: fieldName(context, e.instancePath), message: `must be ${Array.isArray(e.params.type) ? e.params.type.join(' or ') : String(e.params.type)}${shown === '' ? '' : `, not${shown}`}` }
    default:
      return { field: fieldName(context, e.instancePath), message: `${e.message ?? e.keyword}${shown === '' ? '' : ` (got${shown})`}` }
  }
}

/** Keeps one error per field, dropping schema-internal noise (anyOf/boolean-schema echoes). */
export function describeSchemaErrors (errors: Iterable<SchemaError>, context: string, data?: unknown): FieldError[] {
  const out: FieldError[] = []
  const seen = new Set<string>()
  for (const e of errors) {
    if (e.keyword === 'boolean' || e.keyword === 'anyOf' || e.keyword === 'if') continue
    const expanded = e.keyword === 'required' && Array.isArray(e.params.requiredProperties)
      ? (e.params.requiredProperties as string[]).map(p => ({ ...e, params: { missingProperty: p } }))
      : [e]
    for (const one of expanded) {
      const d = describeSchemaError(one, context, data)
      if (seen.has(d.field)) continue
      seen.add(d.field)
      out.push(d)
    }
  }
  return out
}
