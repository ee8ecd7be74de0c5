// The address conflict check (Kea's ping-check hook, dnsmasq's default): before a pool address
// is offered to a client that does not hold it yet, one ICMP echo goes to it; a reply within
// the timeout means another host uses the address without a lease. Probes run concurrently
// with everything else: only the client whose offer waits for its probe waits.
//
//   const check = new ConflictCheck({ timeoutMs: 200, log })
//   if (!check.check('10.0.0.7', inUse => …)) sendNow()   // false: no probe possible, go on without
//   check.close()
import type { Logger } from 'pino'
import { internetChecksum, openIcmp4Socket, type RawIcmpSocket } from '@rackboot/netbind'

interface Probe { ip: string; seq: number; timer: NodeJS.Timeout; waiters: Array<(inUse: boolean) => void> }

export class ConflictCheck {
  private socket: RawIcmpSocket | null = null
  private openError: string | null = null
  private readonly id = process.pid & 0xffff
  private seq = 0
  private readonly bySeq = new Map<number, Probe>()
  private readonly byIp = new Map<string, Probe>()
  private closed = false
  /** How long a probe waits for an answer (changed by a config reload). */
  timeoutMs: number

  constructor (private readonly opts: { timeoutMs: number; log: Logger; onUnavailable?: (why: string | null) => void }) {
    this.timeoutMs = opts.timeoutMs
  }

  /** Why probes cannot be sent (the raw socket could not be opened), or null. */
  get unavailable (): string | null { return this.openError }

  /**
   * Probes `ip` (or joins a probe of it already under way); `done(inUse)` is called once, with
   * true when `ip` answered within the timeout. Returns false, and never calls `done`, when no
   * probe could be sent (no raw socket, or the send failed): the caller goes on without.
   */
  check (ip: string, done: (inUse: boolean) => void): boolean {
    if (this.closed) return false
    const running = this.byIp.get(ip)
    if (running !== undefined) { running.waiters.push(done); return true }
    const socket = this.open()
    if (socket === null) return false
    const seq = this.nextSeq()
    if (seq === null) return false
    const echo = Buffer.from([8, 0, 0, 0, this.id >> 8, this.id & 0xff, seq >> 8, seq & 0xff, 0x72, 0x62, 0x63, 0x6b])
    echo.writeUInt16BE(internetChecksum(echo), 2)
    if (socket.send(echo, ip) < 0) return false
    const probe: Probe = { ip, seq, waiters: [done], timer: setTimeout(() => this.finish(probe, false), this.timeoutMs) }
    this.bySeq.set(seq, probe)
    this.byIp.set(ip, probe)
    return true
  }

  close (): void {
    this.closed = true
    for (const p of this.bySeq.values()) clearTimeout(p.timer)
    this.bySeq.clear()
    this.byIp.clear()
    this.socket?.close()
    this.socket = null
  }

  private nextSeq (): number | null {
    for (let i = 0; i < 0x10000; i++) {
      this.seq = (this.seq + 1) & 0xffff
      if (!this.bySeq.has(this.seq)) return this.seq
    }
    return null
  }

  private open (): RawIcmpSocket | null {
    if (this.socket !== null) return this.socket
    try {
      this.socket = openIcmp4Socket('', (bytes, source) => this.onReply(bytes, source))
      if (this.openError !== null) this.opts.onUnavailable?.(null)
      this.openError = null
      return this.socket
    } catch (err) {
      const msg = (err as Error).message
      if (this.openError !== msg) {
        this.opts.log.warn({ err: { code: (err as { code?: string }).code, message: msg } }, `DHCP conflict check unavailable, pool addresses are offered unprobed: ${msg}`)
        this.opts.onUnavailable?.(msg)
      }
      this.openError = msg
      return null
    }
  }

  private onReply (bytes: Buffer, source: string): void {
    const ihl = ((bytes[0] ?? 0) & 0x0f) * 4
    if (bytes.length < ihl + 8 || bytes[ihl] !== 0) return
    if (bytes.readUInt16BE(ihl + 4) !== this.id) return // someone else's ping
    const probe = this.bySeq.get(bytes.readUInt16BE(ihl + 6))
    if (probe === undefined || probe.ip !== source) return
    this.finish(probe, true)
  }

  private finish (probe: Probe, inUse: boolean): void {
    if (this.bySeq.get(probe.seq) !== probe) return
    clearTimeout(probe.timer)
    this.bySeq.delete(probe.seq)
    this.byIp.delete(probe.ip)
    for (const w of probe.waiters) w(inUse)
  }
}
