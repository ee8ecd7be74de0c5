// Parses a bulk import body (JSON or CSV) into rows, each validated against MachineInput.
import { parse as parseCsv } from 'csv-parse/sync'
import { Compile } from 'typebox/compile'
import { MachineInputSchema } from './schemas.js'
import { describeSchemaErrors, type FieldError } from './validation.js'
import { RackbootError } from '../errors.js'

export interface ImportRow { row: number; line?: number; input: unknown; problems: FieldError[] }

const check = Compile(MachineInputSchema)
export const MAX_IMPORT_ROWS = 50_000

/** CSV columns and the MachineInput field each fills. */
export const CSV_COLUMNS = ['hostname', 'macs', 'lan', 'ipv4', 'image', 'role', 'labels', 'bmc_address', 'bmc_mac', 'bmc_driver', 'bmc_port', 'bmc_username', 'bmc_password', 'bmc_cipher_suite', 'bmc_tls_verify', 'bmc_ca_file', 'bmc_fingerprint', 'bmc_system_id', 'state', 'netboot', 'install_disk', 'network', 'cluster'] as const
const ALIASES: Record<string, typeof CSV_COLUMNS[number]> = { mac: 'macs', ip: 'ipv4', address: 'ipv4', installDisk: 'install_disk' }

function validate (input: unknown, row: number): FieldError[] {
  if (check.Check(input)) return []
  return describeSchemaErrors(check.Errors(input) as Iterable<any>, '', input, MachineInputSchema)
}

export function parseImport (body: unknown, contentType: string): ImportRow[] {
  if (/^(text|application)\/csv\b/i.test(contentType)) return fromCsv(String(body))
  const list = Array.isArray(body) ? body : (body !== null && typeof body === 'object' && Array.isArray((body as { machines?: unknown }).machines) ? (body as { machines: unknown[] }).machines : null)
  if (list === null) throw new RackbootError('RB_VALIDATION', 'body must be a JSON array of machines, {"machines": [...]}, or CSV (content-type text/csv)', 'body')
  if (list.length === 0) throw new RackbootError('RB_VALIDATION', 'body has no machines to import', 'body')
  if (list.length > MAX_IMPORT_ROWS) throw new RackbootError('RB_VALIDATION', `body has ${list.length} machines; at most ${MAX_IMPORT_ROWS} per import`, 'body')
  return list.map((input, i) => ({ row: i + 1, input, problems: validate(input, i + 1) }))
}

function fromCsv (text: string): ImportRow[] {
  let records: Array<{ record: Record<string, string>; info: { lines: number } }>
  try {
    records = parseCsv(text, { columns: (header: string[]) => header.map(h => h.trim().toLowerCase()), skip_empty_lines: true, trim: true, info: true, bom: true, comment: '#' })
  } catch (err) {
    throw new RackbootError('RB_VALIDATION', `the CSV cannot be parsed: ${(err as Error).message}`, 'body')
  }
  if (records.length === 0) throw new RackbootError('RB_VALIDATION', 'the CSV has a header but no rows', 'body')
  if (records.length > MAX_IMPORT_ROWS) throw new RackbootError('RB_VALIDATION', `the CSV has ${records.length} rows; at most ${MAX_IMPORT_ROWS} per import`, 'body')
  const header = Object.keys(records[0]?.record ?? {})
  const unknown = header.filter(h => !(CSV_COLUMNS as readonly string[]).includes(h) && ALIASES[h] === undefined)
  if (unknown.length > 0) throw new RackbootError('RB_VALIDATION', `unknown CSV column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known: ${CSV_COLUMNS.join(', ')}`, 'body')

  return records.map(({ record, info }, i) => {
    const input: Record<string, unknown> = {}
    const problems: FieldError[] = []
    const bmc: Record<string, string | number | boolean> = {}
    const int = (v: string): number | string => /^\d{1,5}$/.test(v) ? Number(v) : v
    /** true/yes/1 or false/no/0; anything else is a problem of the row. */
    const bool = (field: string, v: string): boolean | undefined => {
      const l = v.toLowerCase()
      if (['true', 'yes', '1'].includes(l)) return true
      if (['false', 'no', '0'].includes(l)) return false
      problems.push({ field, message: `${JSON.stringify(v)} is not true/false` })
      return undefined
    }
    for (const [rawKey, value] of Object.entries(record)) {
      if (value === '') continue
      const key = ALIASES[rawKey] ?? rawKey
      switch (key) {
        case 'macs': input.macs = value.split(/[\s;|]+/).filter(s => s !== ''); break
        case 'labels': {
          const labels: Record<string, string> = {}
          for (const pair of value.split(/[;]+/).map(s => s.trim()).filter(s => s !== '')) {
            const eq = pair.indexOf('=')
            if (eq <= 0) { problems.push({ field: 'labels', message: `${JSON.stringify(pair)} is not key=value` }); continue }
            labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim()
          }
          input.labels = labels
          break
        }
        case 'netboot': { const v = bool('netboot', value); if (v !== undefined) input.netboot = v; break }
        case 'bmc_address': bmc.address = value; break
        case 'bmc_mac': bmc.mac = value; break
        case 'bmc_driver': bmc.driver = value; break
        case 'bmc_port': bmc.port = int(value); break
        case 'bmc_username': bmc.username = value; break
        case 'bmc_password': bmc.password = value; break
        case 'bmc_cipher_suite': bmc.cipherSuite = int(value); break
        case 'bmc_tls_verify': { const v = bool('bmc.tlsVerify', value); if (v !== undefined) bmc.tlsVerify = v; break }
        case 'bmc_ca_file': bmc.caFile = value; break
        case 'bmc_fingerprint': bmc.fingerprint = value; break
        case 'bmc_system_id': bmc.systemId = value; break
        case 'install_disk': input.installDisk = value; break
        default: input[key] = value
      }
    }
    if (Object.keys(bmc).length > 0) input.bmc = bmc
    const row = i + 1
    return { row, line: info.lines, input, problems: [...problems, ...validate(input, row)] }
  })
}
