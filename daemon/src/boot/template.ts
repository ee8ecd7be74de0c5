// `{{ name }}` templates for image command lines and cloud-init files. `${…}` is left alone:
// that is iPXE's own syntax. An unknown placeholder is an error when the image loads.

export const PLACEHOLDERS = ['hostname', 'mac', 'ip', 'lan', 'gateway', 'dns', 'machine_id', 'boot_url', 'phone_home_url', 'metadata_url', 'image', 'role'] as const
const LABEL = /^labels\.[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/
const TOKEN = /\{\{\s*([^{}\s]+)\s*\}\}/g

/** The unknown placeholders in a template (empty when it is valid). */
export function unknownPlaceholders (template: string): string[] {
  const out: string[] = []
  for (const m of template.matchAll(TOKEN)) {
    const name = m[1] as string
    if (!(PLACEHOLDERS as readonly string[]).includes(name) && !LABEL.test(name)) out.push(name)
  }
  return out
}

export type TemplateValues = Record<typeof PLACEHOLDERS[number], string> & { labels: Record<string, string> }

/** Fills a template validated by `unknownPlaceholders`; a label the machine lacks is empty. */
export function render (template: string, values: TemplateValues): string {
  return template.replace(TOKEN, (_all, name: string) => {
    if (name.startsWith('labels.')) return values.labels[name.slice(7)] ?? ''
    return values[name as typeof PLACEHOLDERS[number]] ?? ''
  })
}
