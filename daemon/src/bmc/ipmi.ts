// IPMI over LAN (RMCP+, `lanplus`) through Debian's ipmitool: a native RMCP+ client would mean
// writing RAKP, its HMACs and AES-CBC ourselves, and no maintained npm library exists. ipmitool
// runs with execFile (no shell), the password only in its environment (`-E` reads
// IPMITOOL_PASSWORD: never on a command line, so never in `ps`), `-C` the cipher suite, `-N`/`-R`
// its own timeout and retries (the queue adds bounded retries with backoff on top), `-v` so
// that its messages tell a wrong password from an unreachable BMC.
import { execFile } from 'node:child_process'
import { BmcError, type BmcDriver, type BootDevice, type BootOptions, type PowerAction, type PowerState } from './driver.js'

export interface IpmiTarget {
  address: string
  port?: number
  username: string
  password: string
  /** RMCP+ cipher suite: 17 (HMAC-SHA256, AES-CBC-128; default) or 3 (HMAC-SHA1) for older BMCs. */
  cipherSuite?: number
  /** Seconds ipmitool waits for an answer (`-N`), and its retries (`-R`). */
  timeoutS?: number
  retries?: number
  /** The ipmitool binary (tests: a path). */
  ipmitool?: string
}

/** ipmitool's own messages, mapped to what the operator must fix. First match wins. */
const CLASSES: Array<[RegExp, 'auth' | 'unreachable' | 'unsupported' | 'busy', string]> = [
  [/RAKP 2 HMAC is invalid|unauthorized name|invalid user name|Invalid user name|password is incorrect|Authentication type .* not supported|insufficient privilege/i, 'auth', 'the BMC refused the user name or password'],
  [/invalid authentication algorithm|invalid integrity algorithm|invalid confidentiality algorithm|no matching cipher suite|Invalid cipher suite|Unsupported cipher suite/i, 'unsupported', 'the BMC does not support this cipher suite (try 3 for an older BMC)'],
  [/Get Auth Capabilities error|No response from remote controller|Insufficient resources for session|timed out|timeout/i, 'unreachable', 'no answer from the BMC'],
  [/Node busy|0xc0|busy/i, 'busy', 'the BMC is busy']
]

/** Classifies a failed ipmitool run by its output. */
export function classifyIpmitool (output: string, timedOut: boolean): BmcError {
  const lines = output.split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('Loading IANA PEN'))
  const detail = lines.join('; ').slice(0, 500)
  for (const [re, kind, what] of CLASSES) if (re.test(output)) return new BmcError(kind, what, detail)
  if (timedOut) return new BmcError('unreachable', 'no answer from the BMC within the timeout', detail)
  return new BmcError('failed', 'ipmitool failed', detail)
}

export class IpmiDriver implements BmcDriver {
  readonly driver = 'ipmi' as const
  constructor (private readonly target: IpmiTarget) {}

  /** ipmitool's arguments for `cmd`: everything but the password, which goes in the environment. */
  argv (cmd: string[]): string[] {
    const t = this.target
    return ['-v', '-I', 'lanplus', '-H', t.address, '-p', String(t.port ?? 623), '-U', t.username, '-E', '-C', String(t.cipherSuite ?? 17), '-N', String(t.timeoutS ?? 2), '-R', String(t.retries ?? 2), ...cmd]
  }

  private async run (cmd: string[]): Promise<string> {
    const t = this.target
    // ipmitool's own bound: its retries times its timeout, and a margin for the session setup.
    const killAfterMs = ((t.timeoutS ?? 2) * ((t.retries ?? 2) + 1) * 4 + 5) * 1000
    return await new Promise((resolve, reject) => {
      execFile(t.ipmitool ?? 'ipmitool', this.argv(cmd), {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', IPMITOOL_PASSWORD: t.password },
        timeout: killAfterMs,
        killSignal: 'SIGKILL',
        maxBuffer: 256 * 1024
      }, (err, stdout, stderr) => {
        if (err === null) { resolve(stdout); return }
        const e = err as NodeJS.ErrnoException & { killed?: boolean }
        if (e.code === 'ENOENT') { reject(new BmcError('failed', 'ipmitool is not installed (apt-get install ipmitool)')); return }
        reject(classifyIpmitool(`${stderr}\n${stdout}`, e.killed === true))
      })
    })
  }

  async status (): Promise<PowerState> {
    const out = await this.run(['chassis', 'power', 'status'])
    const m = /Chassis Power is (on|off)/i.exec(out)
    if (m === null) throw new BmcError('failed', 'ipmitool printed no power state', out.trim().slice(0, 200))
    return (m[1] as string).toLowerCase() as PowerState
  }

  async power (action: PowerAction): Promise<void> {
    await this.run(['chassis', 'power', action])
  }

  async bootDevice (device: BootDevice, o: BootOptions): Promise<void> {
    const options = [...(o.once ? [] : ['persistent']), ...(o.mode === 'uefi' ? ['efiboot'] : [])]
    await this.run(['chassis', 'bootdev', device, ...(options.length === 0 ? [] : [`options=${options.join(',')}`])])
  }
}
