// Plain-text tables for people; scripts use --json.
export function table (headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = rows.map(r => r.map(c => c === null || c === undefined ? '-' : String(c)))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map(r => (r[i] ?? '').length)))
  const line = (r: string[]) => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(headers.map(h => h.toUpperCase())), ...cells.map(line)].join('\n')
}
