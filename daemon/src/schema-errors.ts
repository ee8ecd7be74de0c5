// The one place JSON-schema errors become sentences: for the config file, API requests,
// bulk imports and image manifests alike. Ajv's errors (Fastify) and TypeBox's have the same
// shape. Each problem names the path and says what was wrong with the value, e.g.
// `lans[1].pool: unknown key (did you mean "pools"?)` → `is not a known key (did you mean …)`.

export interface SchemaError { keyword: string; instancePath: string; params: Record<string, any>; message?: string }
export type Path = Array<string | number>
export interface SchemaProblem { path: Path; message: string }

const PATTERNS = new Map<string, string>()

/**
 * Records what a schema `pattern` means, for messages: `"10.0.0.300" is not an IPv4 address`
 * instead of the regular expression. Returns the pattern, to be used inline in a schema.
 */
export function namedPattern (pattern: string, meaning: string): string {
  PATTERNS.set(pattern, meaning)
  return pattern
}

/** `/macs/0` → `['macs', 0]` */
export function pointerToPath (pointer: string): Path {
  if (pointer === '') return []
  return pointer.slice(1).split('/').map(s => s.replace(/~1/g, '/').replace(/~0/g, '~')).map(s => /^\d+$/.test(s) ? Number(s) : s)
}

/** `('body', ['macs', 0])` → `body.macs[0]`; `('', ['lans', 1, 'pool'])` → `lans[1].pool`; empty → `(root)`. */
export function dottedPath (prefix: string, path: Path): string {
  let out = prefix
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : (out === '' ? p : `.${p}`)
  return out === '' ? '(root)' : out
}

/**
 * A value as JSON for a message, cut at `max` characters: walks only as deep and as far as the
 * text needs, so a huge or deeply nested value cannot blow the stack or the time budget.
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

/** `a list`, `a mapping`, `number 9080`: what a value is, for "must be a string, not …". */
function kindOf (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  return `${typeof v} ${preview(v)}`
}

function valueAt (root: unknown, path: Path): unknown {
  let v: any = root
  for (const p of path) v = v?.[p]
  return v
}

/** The schema node at `path` (following properties and items), for the keys a mapping allows. */
function schemaAt (schema: unknown, path: Path): any {
  let s: any = schema
  for (const p of path) {
    if (s === undefined || s === null) return undefined
    s = typeof p === 'number' ? s.items : s.properties?.[p]
  }
  return s
}

function editDistance (a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length] as number
}

/** The known name within two edits of `word`, if any (the nearest). */
export function closest (word: string, candidates: readonly string[]): string | null {
  let best: string | null = null
  let bestScore = 3
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase())
    if (d < bestScore) { best = c; bestScore = d }
  }
  return best
}

const article = (word: string) => /^[aeiou]/.test(word) ? 'an' : 'a'

/**
 * Every problem in `errors`, one per path (schema-internal echoes of anyOf/if/boolean left
 * out, `required` expanded to each missing key). `data` is the validated value (for the bad
 * value in the message); `schema` its root schema (for the keys an unknown one could have been).
 */
export function schemaProblems (errors: Iterable<SchemaError>, data: unknown, schema?: unknown): SchemaProblem[] {
  const out: SchemaProblem[] = []
  const seen = new Set<string>()
  const add = (path: Path, message: string) => {
    const key = dottedPath('', path)
    if (seen.has(key)) return
    seen.add(key)
    out.push({ path, message })
  }
  for (const e of errors) {
    if (e.keyword === 'boolean' || e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'if') continue
    const path = pointerToPath(e.instancePath)
    const value = valueAt(data, path)
    switch (e.keyword) {
      case 'required': {
        const missing: string[] = e.params.requiredProperties ?? (e.params.missingProperty === undefined ? [] : [e.params.missingProperty])
        for (const m of missing) add([...path, m], 'is required')
        break
      }
      case 'additionalProperties': {
        const extras: string[] = e.params.additionalProperties ?? (e.params.additionalProperty === undefined ? [] : [e.params.additionalProperty])
        const known = Object.keys(schemaAt(schema, path)?.properties ?? {})
        for (const extra of extras) {
          const guess = closest(extra, known)
          add([...path, extra], `is not a known key${guess === null ? '' : ` (did you mean "${guess}"?)`}${known.length === 0 ? '' : `; allowed: ${known.join(', ')}`}`)
        }
        break
      }
      case 'enum':
        add(path, `must be one of ${(e.params.allowedValues as unknown[]).map(v => JSON.stringify(v)).join(', ')}, not ${preview(value)}`)
        break
      case 'type': {
        const type = Array.isArray(e.params.type) ? e.params.type.join(' or ') : String(e.params.type)
        add(path, `must be ${article(type)} ${type}, not ${kindOf(value)}`)
        break
      }
      case 'pattern':
        add(path, `${preview(value)} is not ${PATTERNS.get(String(e.params.pattern)) ?? `in the expected format (${String(e.params.pattern)})`}`)
        break
      default:
        add(path, `${e.message ?? e.keyword}${value === undefined ? '' : ` (got ${preview(value)})`}`)
    }
  }
  return out
}
