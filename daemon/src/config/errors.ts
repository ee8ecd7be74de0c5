/** One problem in a config file, located by file, line and dotted key. */
export interface ConfigProblem { file: string; line: number | null; key: string; message: string }

export function formatProblem (p: ConfigProblem): string {
  return `${p.file}${p.line === null ? '' : `:${p.line}`}: ${p.key === '' ? '(root)' : p.key}: ${p.message}`
}

/** Every problem found in a config file; `message` lists them one a line. */
export class ConfigError extends Error {
  readonly code = 'RB_CONFIG_INVALID'
  constructor (readonly problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'))
    this.name = 'ConfigError'
  }
}
