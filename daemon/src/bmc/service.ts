// Drives machines' BMCs for the API (and, later, provisioning): builds the machine's driver
// from its settings (the password opened only here, handed to the driver, never logged), runs
// each operation through the per-BMC queue, and records the result or the error on the
// machine's timeline. A power state that differs from the last one known is an event too.
import type { Logger } from 'pino'
import type { Store, Machine } from '../store/index.js'
import { RackbootError, type ErrorCode } from '../errors.js'
import { BmcError, type BmcDriver, type BootDevice, type BootOptions, type PowerAction, type PowerState } from './driver.js'
import { IpmiDriver } from './ipmi.js'
import { RedfishDriver } from './redfish.js'
import { BmcQueue, type RetryPolicy } from './queue.js'

export interface BmcSettings {
  /** The ipmitool binary. */
  ipmitool: string
  /** Seconds ipmitool waits for each answer. */
  timeoutS: number
  /** Tries per operation, with doubling backoff from `backoffMs`, within `deadlineMs`. */
  retry: RetryPolicy
}

export const DEFAULT_BMC_SETTINGS: BmcSettings = { ipmitool: 'ipmitool', timeoutS: 2, retry: { attempts: 3, backoffMs: 1000, deadlineMs: 60_000 } }

const CODES: Record<BmcError['kind'], ErrorCode> = {
  auth: 'RB_BMC_AUTH', unreachable: 'RB_BMC_UNREACHABLE', unsupported: 'RB_BMC_UNSUPPORTED', busy: 'RB_BMC_BUSY', failed: 'RB_BMC_FAILED'
}

export class BmcService {
  private readonly queue = new BmcQueue()

  constructor (private readonly store: Store, private readonly log: Logger, private readonly settings: () => BmcSettings = () => DEFAULT_BMC_SETTINGS) {}

  /** The machine's driver, or a 422 naming what is missing. */
  driverFor (m: Machine): { driver: BmcDriver; key: string } {
    const b = m.bmc
    const missing = [b.driver === null ? 'bmc.driver' : null, b.address === null ? 'bmc.address' : null, b.username === null ? 'bmc.username' : null, b.passwordSet ? null : 'bmc.password'].filter(x => x !== null)
    if (missing.length > 0) throw new RackbootError('RB_BMC_NOT_CONFIGURED', `machine ${m.hostname} has no ${missing.join(', ')}: set them (rackboot machines set ${m.hostname} --bmc-…) before driving its BMC`, missing[0] ?? 'bmc')
    const password = this.store.machines.bmcPassword(m.id) ?? ''
    const s = this.settings()
    if (b.driver === 'redfish') {
      const driver = new RedfishDriver({ address: b.address as string, port: b.port ?? 443, username: b.username as string, password, tlsVerify: b.tlsVerify ?? true, caFile: b.caFile, fingerprint: b.fingerprint, systemId: b.systemId, timeoutMs: s.timeoutS * 5000 })
      return { driver, key: `${b.address as string}:${b.port ?? 443}` }
    }
    const driver = new IpmiDriver({ address: b.address as string, port: b.port ?? 623, username: b.username as string, password, cipherSuite: b.cipherSuite ?? 17, timeoutS: s.timeoutS, retries: 1, ipmitool: s.ipmitool })
    return { driver, key: `${b.address as string}:${b.port ?? 623}` }
  }

  /**
   * Runs one operation on the machine's BMC and records it (`bmc.<op>` with its outcome, or
   * `bmc.error`); a BmcError becomes a RackbootError with the kind's code and the tool's message.
   */
  private async run<T> (m: Machine, op: string, detail: Record<string, unknown>, actor: string, fn: (d: BmcDriver) => Promise<T>): Promise<{ value: T; attempts: number }> {
    const { driver, key } = this.driverFor(m)
    const t0 = Date.now()
    try {
      // One session per operation, logged out at its end (a Redfish BMC has few session slots).
      const r = await this.queue.run(key, async () => { try { return await fn(driver) } finally { await driver.close?.() } }, this.settings().retry)
      this.store.write(() => this.store.events.append({ actor, type: `bmc.${op}`, machineId: m.id, lan: m.lan, detail: { ...detail, ...(typeof r.value === 'string' ? { state: r.value } : {}), attempts: r.attempts, ms: Date.now() - t0 } }))
      return r
    } catch (err) {
      const e = err instanceof BmcError ? err : new BmcError('failed', (err as Error).message)
      const attempts = (e as BmcError & { attempts?: number }).attempts ?? 1
      this.store.write(() => this.store.events.append({ actor, type: 'bmc.error', machineId: m.id, lan: m.lan, detail: { op, ...detail, kind: e.kind, message: e.message, tool: e.detail, attempts, ms: Date.now() - t0 } }))
      this.log.warn({ machineId: m.id, op, kind: e.kind, attempts, reason: e.message }, 'BMC operation failed')
      throw new RackbootError(CODES[e.kind], `${m.hostname}'s BMC (${m.bmc.address ?? '?'}): ${e.message}${e.detail === '' ? '' : ` (${e.detail})`}`, 'bmc')
    }
  }

  /** The live power state; recorded on the machine, and an event when it changed. */
  async status (m: Machine, actor: string): Promise<{ state: PowerState; attempts: number }> {
    const r = await this.run(m, 'status', {}, actor, async d => await d.status())
    this.seen(m, r.value, actor)
    return { state: r.value, attempts: r.attempts }
  }

  async power (m: Machine, action: PowerAction, actor: string): Promise<{ attempts: number }> {
    const r = await this.run(m, 'power', { action }, actor, async d => { await d.power(action) })
    if (action === 'on' || action === 'off') this.seen(m, action, actor)
    return { attempts: r.attempts }
  }

  async bootDevice (m: Machine, device: BootDevice, o: BootOptions, actor: string): Promise<{ attempts: number }> {
    const r = await this.run(m, 'boot-device', { device, once: o.once, mode: o.mode }, actor, async d => { await d.bootDevice(device, o) })
    return { attempts: r.attempts }
  }

  private pollTimer: NodeJS.Timeout | null = null
  private polling = false
  /** Per machine, the kind of the last poll's error ('' after a success): a poll records a change, not each repeat. */
  private readonly pollErrors = new Map<number, string>()

  /**
   * Polls every BMC-driven machine's power state each `intervalMs` (0: off), one machine after
   * another and never two polls at once, so a rack of BMCs sees at most one session at a time
   * from rackboot. A changed state is a `machine.power` event (as from the API); a BMC that
   * stops or starts answering is a `bmc.poll` event once, not at every tick.
   */
  startPoll (intervalMs: number): void {
    this.stopPoll()
    if (intervalMs <= 0) return
    this.pollTimer = setInterval(() => { void this.pollOnce() }, intervalMs)
    this.pollTimer.unref()
  }

  stopPoll (): void {
    if (this.pollTimer !== null) clearInterval(this.pollTimer)
    this.pollTimer = null
  }

  /** One pass over the machines with a BMC driver; returns how many answered. */
  async pollOnce (): Promise<number> {
    if (this.polling) return 0
    this.polling = true
    let answered = 0
    try {
      for (const m of this.store.machines.withBmc()) {
        if (m.bmc.driver === null || m.bmc.address === null || m.bmc.username === null || !m.bmc.passwordSet) continue
        const { driver, key } = this.driverFor(m)
        const before = this.pollErrors.get(m.id)
        try {
          const r = await this.queue.run(key, async () => { try { return await driver.status() } finally { await driver.close?.() } }, { attempts: 1, backoffMs: 0, deadlineMs: this.settings().retry.deadlineMs })
          answered++
          this.seen(m, r.value, 'bmc-poll')
          if (before !== undefined && before !== '') this.store.write(() => this.store.events.append({ actor: 'bmc-poll', type: 'bmc.poll', machineId: m.id, lan: m.lan, detail: { outcome: 'answering again', state: r.value } }))
          this.pollErrors.set(m.id, '')
        } catch (err) {
          const e = err instanceof BmcError ? err : new BmcError('failed', (err as Error).message)
          if (before !== e.kind) {
            this.store.write(() => this.store.events.append({ actor: 'bmc-poll', type: 'bmc.poll', machineId: m.id, lan: m.lan, detail: { outcome: 'error', kind: e.kind, message: e.message, tool: e.detail } }))
            this.log.warn({ machineId: m.id, kind: e.kind, reason: e.message }, 'BMC power poll failed')
          }
          this.pollErrors.set(m.id, e.kind)
        }
      }
    } finally {
      this.polling = false
    }
    return answered
  }

  private seen (m: Machine, state: PowerState, actor: string): void {
    this.store.write(() => {
      const before = this.store.machines.powerSeen(m.id, state, this.store.now())
      if (before !== state) this.store.events.append({ actor, type: 'machine.power', machineId: m.id, lan: m.lan, detail: { from: before, to: state } })
    })
  }
}
