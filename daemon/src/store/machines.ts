// Machines and their MACs: the inventory's core table, with the rules that keep it consistent.
import { archCanBoot, archName } from '../arch.js'
import type { Db } from './db.js'
import { limitClause, statementCache } from './db.js'
import type { EventLog } from './events.js'
import { canTransition, type MachineState } from './lifecycle.js'
import type { Lan } from '../config/lan.js'
import { reservationProblem } from '../config/lan.js'
import { formatIPv4, tryParseIPv4, tryParseMac } from '@rackboot/wire'
import { RackbootError } from '../errors.js'
import type { SecretBox } from './secrets.js'

export interface Machine {
  id: number
  hostname: string
  macs: string[]
  lan: string
  ipv4: string | null
  image: string | null
  role: string | null
  labels: Record<string, string>
  bmc: BmcView
  state: MachineState
  /** Why the machine is `failed` (e.g. an install's reason); null in every other state. */
  stateReason: string | null
  netboot: boolean
  /** The disk the installer writes: a /dev/disk/by-… path or a device name; null: the first large-enough disk. */
  installDisk: string | null
  /** How the installed OS configures its boot NIC; null: the image's choice. */
  network: NetworkMode | null
  /** The cluster the machine is a node of (its `role` is then control-plane or worker). */
  cluster: string | null
  /** Its kubeadm run in that cluster: pending, running, joined, failed; null outside a cluster. */
  clusterStatus: ClusterStatus | null
  /** Why `clusterStatus` is `failed` (the failing step and its output's last lines). */
  clusterReason: string | null
  arch: string | null
  uuid: string | null
  firstSeen: string | null
  lastSeen: string | null
  createdAt: string
  updatedAt: string
}

export interface MachineInput {
  hostname: string
  macs: string[]
  lan: string
  ipv4?: string | null
  image?: string | null
  role?: string | null
  labels?: Record<string, string>
  bmc?: BmcInput
  state?: MachineState
  netboot?: boolean
  installDisk?: string | null
  network?: NetworkMode | null
  cluster?: string | null
}

/** The BMC as the API shows it: the password only as whether one is set. */
export interface BmcView {
  address: string | null
  mac: string | null
  driver: 'ipmi' | 'redfish' | null
  port: number | null
  username: string | null
  passwordSet: boolean
  cipherSuite: number | null
  /** Redfish: verify the BMC's TLS certificate (null: yes), against this CA file or this pinned SHA-256 fingerprint. */
  tlsVerify: boolean | null
  caFile: string | null
  fingerprint: string | null
  /** Redfish: the system's Id when the service has several. */
  systemId: string | null
  /** The power state the BMC last reported, and when (null: never asked). */
  powerState: 'on' | 'off' | null
  powerCheckedAt: string | null
}

/** BMC settings to set: `password` is write-only (sealed at rest); null clears a field. */
export interface BmcInput {
  address?: string | null
  mac?: string | null
  driver?: 'ipmi' | 'redfish' | null
  port?: number | null
  username?: string | null
  password?: string | null
  cipherSuite?: number | null
  tlsVerify?: boolean | null
  caFile?: string | null
  fingerprint?: string | null
  systemId?: string | null
}

export type ClusterStatus = 'pending' | 'running' | 'joined' | 'failed'
export const CLUSTER_ROLES = ['control-plane', 'worker'] as const

export type NetworkMode = 'static' | 'dhcp'

/** A change; `stateReason` only from the daemon itself (it is cleared by any other state change). */
export type MachinePatch = Partial<MachineInput> & { stateReason?: string | null }

type Normalized = Required<Omit<MachineInput, 'bmc' | 'cluster'>> & {
  bmc: { address: string | null; mac: string | null; driver: 'ipmi' | 'redfish' | null; port: number | null; username: string | null; cipherSuite: number | null; tlsVerify: boolean | null; caFile: string | null; fingerprint: string | null; systemId: string | null }
  clusterId: number | null
}

export interface LabelSelector { key: string; op: '=' | '!=' | 'exists'; value?: string }

export interface MachineFilter {
  lan?: string
  state?: MachineState
  mac?: string
  hostname?: string
  labels?: LabelSelector[]
  after?: number
  limit: number
}

interface Row {
  id: number; hostname: string; lan: string; ipv4: string | null; image: string | null; role: string | null
  labels: string; bmc_address: string | null; bmc_mac: string | null; state: MachineState; netboot: number
  bmc_driver: 'ipmi' | 'redfish' | null; bmc_port: number | null; bmc_username: string | null; bmc_password: string | null; bmc_cipher_suite: number | null
  bmc_tls_verify: number | null; bmc_ca_file: string | null; bmc_fingerprint: string | null; bmc_system_id: string | null
  power_state: 'on' | 'off' | null; power_checked_at: number | null
  state_reason: string | null; install_disk: string | null; network: NetworkMode | null
  cluster_id: number | null; cluster: string | null; cluster_status: ClusterStatus | null; cluster_reason: string | null
  arch: string | null; uuid: string | null; first_seen: number | null; last_seen: number | null
  created_at: number; updated_at: number; macs: string
}

const iso = (ms: number | null) => ms === null ? null : new Date(ms).toISOString()

/** The BMC columns of a normalised machine, as the statements name them. */
const bmcColumns = (b: Normalized['bmc']) => ({
  bmc_driver: b.driver, bmc_port: b.port, bmc_username: b.username, bmc_cipher_suite: b.cipherSuite,
  bmc_tls_verify: b.tlsVerify === null ? null : b.tlsVerify ? 1 : 0, bmc_ca_file: b.caFile, bmc_fingerprint: b.fingerprint, bmc_system_id: b.systemId
})

function fromRow (r: Row): Machine {
  return {
    id: r.id,
    hostname: r.hostname,
    macs: r.macs === '' ? [] : r.macs.split(','),
    lan: r.lan,
    ipv4: r.ipv4,
    image: r.image,
    role: r.role,
    labels: JSON.parse(r.labels),
    bmc: {
      address: r.bmc_address, mac: r.bmc_mac, driver: r.bmc_driver, port: r.bmc_port, username: r.bmc_username,
      passwordSet: r.bmc_password !== null, cipherSuite: r.bmc_cipher_suite,
      tlsVerify: r.bmc_tls_verify === null ? null : r.bmc_tls_verify === 1, caFile: r.bmc_ca_file, fingerprint: r.bmc_fingerprint, systemId: r.bmc_system_id, powerState: r.power_state, powerCheckedAt: iso(r.power_checked_at)
    },
    state: r.state,
    stateReason: r.state_reason,
    netboot: r.netboot === 1,
    installDisk: r.install_disk,
    network: r.network,
    cluster: r.cluster,
    clusterStatus: r.cluster_status,
    clusterReason: r.cluster_reason,
    arch: r.arch,
    uuid: r.uuid,
    firstSeen: iso(r.first_seen),
    lastSeen: iso(r.last_seen),
    createdAt: iso(r.created_at) as string,
    updatedAt: iso(r.updated_at) as string
  }
}

// MACs come back in their registration order as one comma-joined column: one query per page.
const SELECT = `SELECT m.*, (SELECT group_concat(mac, ',') FROM (SELECT mac FROM machine_macs WHERE machine_id = m.id ORDER BY position)) AS macs,
  (SELECT name FROM clusters WHERE id = m.cluster_id) AS cluster FROM machines m`

/**
 * What `installDisk` may be: it lands on the installer's kernel command line, so no spaces or
 * shell characters. A /dev/disk/by-… link (stable across boots), a /dev path, or a bare name.
 */
export const INSTALL_DISK = /^(?:\/dev\/disk\/by-[a-z]+\/[A-Za-z0-9:._+@-]{1,200}|(?:\/dev\/)?[a-z][a-z0-9]{1,31})$/

/** `role=worker`, `role!=worker`, `gpu` → selector; null when malformed. */
export function parseLabelSelector (s: string): LabelSelector | null {
  const m = /^([A-Za-z0-9][A-Za-z0-9._/-]{0,62})(?:(!=|=)(.{0,63}))?$/.exec(s)
  if (m === null) return null
  const key = m[1] as string
  if (m[2] === undefined) return { key, op: 'exists' }
  return { key, op: m[2] as '=' | '!=', value: m[3] ?? '' }
}

export class MachineStore {
  private readonly prepare
  private readonly byId
  private readonly idByMac
  private readonly idByHostname
  private readonly idByIp
  private readonly insertMachine
  private readonly insertMac
  private readonly deleteMacs
  private readonly deleteMachine
  private readonly dhcpViewStmt
  private readonly discoveredStmt
  private readonly seenStmt
  private readonly clusterByName
  private readonly setPassword
  private readonly getPassword
  private readonly setPower
  private readonly allocatedAt

  /**
   * The installed images (names and boot.imagesDir), checked when a machine's image is set;
   * undefined (no check) where no image registry runs (the CLI's token commands, tests).
   */
  images: (() => { names: readonly string[]; dir: string; arch?: ReadonlyMap<string, string> }) | undefined

  constructor (db: Db, private readonly events: EventLog, private readonly lans: () => ReadonlyMap<string, Lan>, private readonly now: () => number, private readonly secrets: SecretBox) {
    this.prepare = statementCache(db)
    this.byId = db.prepare(`${SELECT} WHERE m.id = ?`)
    this.idByMac = db.prepare('SELECT machine_id FROM machine_macs WHERE mac = ?').pluck()
    this.idByHostname = db.prepare('SELECT id FROM machines WHERE hostname = ?').pluck()
    this.idByIp = db.prepare('SELECT id FROM machines WHERE lan = ? AND ipv4 = ?').pluck()
    this.insertMachine = db.prepare(`INSERT INTO machines (hostname, lan, ipv4, image, role, labels, bmc_address, bmc_mac, bmc_driver, bmc_port, bmc_username, bmc_cipher_suite, bmc_tls_verify, bmc_ca_file, bmc_fingerprint, bmc_system_id, state, netboot, install_disk, network, cluster_id, cluster_status, created_at, updated_at)
      VALUES (@hostname, @lan, @ipv4, @image, @role, @labels, @bmc_address, @bmc_mac, @bmc_driver, @bmc_port, @bmc_username, @bmc_cipher_suite, @bmc_tls_verify, @bmc_ca_file, @bmc_fingerprint, @bmc_system_id, @state, @netboot, @install_disk, @network, @cluster_id, @cluster_status, @now, @now)`)
    this.setPassword = db.prepare('UPDATE machines SET bmc_password = ? WHERE id = ?')
    this.getPassword = db.prepare('SELECT bmc_password FROM machines WHERE id = ?').pluck()
    this.setPower = db.prepare('UPDATE machines SET power_state = ?, power_checked_at = ? WHERE id = ?')
    this.clusterByName = db.prepare('SELECT id FROM clusters WHERE name = ?').pluck()
    this.allocatedAt = db.prepare('SELECT p.name FROM ip_allocations a JOIN ip_pools p ON p.id = a.pool_id WHERE a.first <= ? AND a.last >= ? LIMIT 1').pluck()
    this.insertMac = db.prepare('INSERT INTO machine_macs (mac, machine_id, position) VALUES (?, ?, ?)')
    this.deleteMacs = db.prepare('DELETE FROM machine_macs WHERE machine_id = ?')
    this.deleteMachine = db.prepare('DELETE FROM machines WHERE id = ?')
    this.dhcpViewStmt = db.prepare('SELECT m.id, m.lan, m.hostname, m.ipv4, m.state FROM machine_macs x JOIN machines m ON m.id = x.machine_id WHERE x.mac = ?')
    this.discoveredStmt = db.prepare("SELECT count(*) FROM machines WHERE lan = ? AND state = 'discovered'").pluck()
    this.seenStmt = db.prepare('UPDATE machines SET arch = COALESCE(@arch, arch), uuid = COALESCE(@uuid, uuid), first_seen = COALESCE(first_seen, @now), last_seen = @now WHERE id = @id')
  }

  get (id: number): Machine | null {
    const r = this.byId.get(id) as Row | undefined
    return r === undefined ? null : fromRow(r)
  }

  getByMac (mac: string): Machine | null {
    const norm = tryParseMac(mac)
    if (norm === null) return null
    const id = this.idByMac.get(norm) as number | undefined
    return id === undefined ? null : this.get(id)
  }

  getByHostname (hostname: string): Machine | null {
    const id = this.idByHostname.get(hostname.toLowerCase()) as number | undefined
    return id === undefined ? null : this.get(id)
  }

  /** A page of machines in id order; `after` is the last id of the previous page. */
  list (f: MachineFilter): Machine[] {
    const where: string[] = []
    const args: unknown[] = []
    if (f.mac !== undefined) {
      // Resolved first, through the MAC index: two primary-key lookups are cheaper than a subquery.
      const mac = tryParseMac(f.mac)
      const id = mac === null ? undefined : this.idByMac.get(mac) as number | undefined
      if (id === undefined) return []
      where.push('m.id = ?'); args.push(id)
    }
    if (f.hostname !== undefined) { where.push('m.hostname = ?'); args.push(f.hostname.toLowerCase()) }
    if (f.lan !== undefined) { where.push('m.lan = ?'); args.push(f.lan) }
    if (f.state !== undefined) { where.push('m.state = ?'); args.push(f.state) }
    for (const sel of f.labels ?? []) {
      const path = `$."${sel.key}"`
      if (sel.op === 'exists') { where.push('json_type(m.labels, ?) IS NOT NULL'); args.push(path) }
      else if (sel.op === '=') { where.push('json_extract(m.labels, ?) = ?'); args.push(path, sel.value) }
      else { where.push('json_extract(m.labels, ?) IS NOT ?'); args.push(path, sel.value) }
    }
    if (f.after !== undefined) { where.push('m.id > ?'); args.push(f.after) }
    const sql = `${SELECT}${where.length > 0 ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY m.id${limitClause(f.limit)}`
    return (this.prepare(sql).all(...args) as Row[]).map(fromRow)
  }

  /** The few columns DHCP decides with, by MAC (one indexed lookup per packet). */
  dhcpView (mac: string): { id: number; lan: string; hostname: string; ipv4: string | null; state: MachineState } | null {
    return (this.dhcpViewStmt.get(mac) as { id: number; lan: string; hostname: string; ipv4: string | null; state: MachineState } | undefined) ?? null
  }

  /** Whether a machine on `lan` has `ip` reserved. */
  isReserved (lan: string, ip: string): boolean {
    return this.idByIp.get(lan, ip) !== undefined
  }

  /** Machines in state `discovered` on the LAN (index machines_lan_state). */
  discoveredCount (lan: string): number {
    return this.discoveredStmt.get(lan) as number
  }

  /** DHCP saw the machine: its architecture and UUID when given, first and last seen. */
  seen (id: number, o: { arch: string | null; uuid: string | null }, now: number): void {
    this.seenStmt.run({ id, arch: o.arch, uuid: o.uuid, now })
  }

  count (): number {
    return this.prepare('SELECT count(*) FROM machines').pluck().get() as number
  }

  countBy (): Array<{ lan: string; state: MachineState; n: number }> {
    return this.prepare('SELECT lan, state, count(*) AS n FROM machines GROUP BY lan, state').all() as Array<{ lan: string; state: MachineState; n: number }>
  }

  countOnLan (lan: string): number {
    return this.prepare('SELECT count(*) FROM machines WHERE lan = ?').pluck().get(lan) as number
  }

  /** Reserved addresses per LAN (for pool usage). */
  reservedCount (lan: string): number {
    return this.prepare('SELECT count(*) FROM machines WHERE lan = ? AND ipv4 IS NOT NULL').pluck().get(lan) as number
  }

  /** Inserts one machine; call inside a transaction (see Store.write). */
  create (input: MachineInput, actor: string): Machine {
    const m = this.normalize(input, null, true)
    const now = this.now()
    const info = this.insertMachine.run({
      hostname: m.hostname, lan: m.lan, ipv4: m.ipv4, image: m.image, role: m.role,
      labels: JSON.stringify(m.labels), bmc_address: m.bmc.address, bmc_mac: m.bmc.mac,
      ...bmcColumns(m.bmc),
      state: m.state, netboot: m.netboot ? 1 : 0, install_disk: m.installDisk, network: m.network,
      cluster_id: m.clusterId, cluster_status: m.clusterId === null ? null : 'pending', now
    })
    const id = Number(info.lastInsertRowid)
    if (input.bmc?.password != null) this.setPassword.run(this.secrets.seal(input.bmc.password, `machine:${id}:bmc.password`), id)
    m.macs.forEach((mac, i) => this.insertMac.run(mac, id, i))
    const created = this.get(id) as Machine
    this.events.append({ actor, type: 'machine.created', machineId: id, lan: created.lan, mac: created.macs[0] ?? null, detail: { hostname: created.hostname, ipv4: created.ipv4 } })
    return created
  }

  /** Applies a partial update; call inside a transaction. */
  update (id: number, patch: MachinePatch, actor: string): Machine {
    const current = this.get(id)
    if (current === null) throw new RackbootError('RB_NOT_FOUND', `machine ${id} does not exist`, 'id')
    const merged: MachineInput = {
      hostname: patch.hostname ?? current.hostname,
      macs: patch.macs ?? current.macs,
      lan: patch.lan ?? current.lan,
      ipv4: patch.ipv4 !== undefined ? patch.ipv4 : current.ipv4,
      image: patch.image !== undefined ? patch.image : current.image,
      role: patch.role !== undefined ? patch.role : current.role,
      labels: patch.labels ?? current.labels,
      bmc: { address: current.bmc.address, mac: current.bmc.mac, driver: current.bmc.driver, port: current.bmc.port, username: current.bmc.username, cipherSuite: current.bmc.cipherSuite, tlsVerify: current.bmc.tlsVerify, caFile: current.bmc.caFile, fingerprint: current.bmc.fingerprint, systemId: current.bmc.systemId, ...patch.bmc },
      state: patch.state ?? current.state,
      netboot: patch.netboot ?? current.netboot,
      installDisk: patch.installDisk !== undefined ? patch.installDisk : current.installDisk,
      network: patch.network !== undefined ? patch.network : current.network,
      cluster: patch.cluster !== undefined ? patch.cluster : current.cluster
    }
    // A reason belongs to the state it explains: given with the change, else kept only while the state stays.
    const stateReason = patch.stateReason !== undefined ? patch.stateReason : merged.state === current.state ? current.stateReason : null
    if (!canTransition(current.state, merged.state as MachineState)) {
      throw new RackbootError('RB_STATE_TRANSITION', `machine ${id} cannot go from ${current.state} to ${merged.state ?? ''}`, 'state')
    }
    const m = this.normalize(merged, id, patch.image !== undefined && patch.image !== current.image)
    this.prepare(`UPDATE machines SET hostname = @hostname, lan = @lan, ipv4 = @ipv4, image = @image, role = @role, labels = @labels,
      bmc_address = @bmc_address, bmc_mac = @bmc_mac, bmc_driver = @bmc_driver, bmc_port = @bmc_port, bmc_username = @bmc_username,
      bmc_cipher_suite = @bmc_cipher_suite, bmc_tls_verify = @bmc_tls_verify, bmc_ca_file = @bmc_ca_file, bmc_fingerprint = @bmc_fingerprint,
      bmc_system_id = @bmc_system_id, state = @state, state_reason = @state_reason, netboot = @netboot,
      install_disk = @install_disk, network = @network, cluster_id = @cluster_id, cluster_status = @cluster_status,
      cluster_reason = @cluster_reason, updated_at = @now WHERE id = @id`).run({
      id, hostname: m.hostname, lan: m.lan, ipv4: m.ipv4, image: m.image, role: m.role, labels: JSON.stringify(m.labels),
      bmc_address: m.bmc.address, bmc_mac: m.bmc.mac, ...bmcColumns(m.bmc), state: m.state, state_reason: stateReason, netboot: m.netboot ? 1 : 0,
      install_disk: m.installDisk, network: m.network, now: this.now(),
      // A node that changes cluster starts over there; one that leaves has no status.
      cluster_id: m.clusterId,
      cluster_status: m.clusterId === null ? null : merged.cluster === current.cluster ? current.clusterStatus : 'pending',
      cluster_reason: m.clusterId !== null && merged.cluster === current.cluster ? current.clusterReason : null
    })
    if (patch.bmc?.password !== undefined) this.setPassword.run(patch.bmc.password === null ? null : this.secrets.seal(patch.bmc.password, `machine:${id}:bmc.password`), id)
    if (patch.macs !== undefined) {
      this.deleteMacs.run(id)
      m.macs.forEach((mac, i) => this.insertMac.run(mac, id, i))
    }
    const updated = this.get(id) as Machine
    const changed = Object.keys(patch).filter(k => JSON.stringify((current as any)[k]) !== JSON.stringify((updated as any)[k]) || (k === 'bmc' && patch.bmc?.password !== undefined))
    this.events.append({ actor, type: 'machine.updated', machineId: id, lan: updated.lan, mac: updated.macs[0] ?? null, detail: { hostname: updated.hostname, changed } })
    if (current.state !== updated.state) {
      this.events.append({ actor, type: 'machine.state', machineId: id, lan: updated.lan, mac: updated.macs[0] ?? null, detail: { from: current.state, to: updated.state, ...(updated.stateReason === null ? {} : { reason: updated.stateReason }) } })
    }
    return updated
  }

  /** A machine by its BMC's MAC (DHCP on a management LAN). */
  bmcView (mac: string): { id: number; hostname: string; address: string | null } | null {
    return (this.prepare('SELECT id, hostname, bmc_address AS address FROM machines WHERE bmc_mac = ?').get(mac) as { id: number; hostname: string; address: string | null } | undefined) ?? null
  }

  /** Whether some machine's BMC has `ip` as its address (DHCP hands it to nobody else). */
  isBmcAddress (ip: string): boolean {
    return this.prepare('SELECT 1 FROM machines WHERE bmc_address = ? AND bmc_mac IS NOT NULL LIMIT 1').get(ip) !== undefined
  }

  /** DHCP gave a machine's BMC `ip`: it becomes its bmc.address (an event when it changed). */
  bmcLeased (id: number, ip: string): void {
    const m = this.get(id)
    // An operator's host name for the BMC stays: only an address (or none) follows the lease.
    if (m === null || m.bmc.address === ip || (m.bmc.address !== null && tryParseIPv4(m.bmc.address) === null)) return
    this.prepare('UPDATE machines SET bmc_address = ?, updated_at = ? WHERE id = ?').run(ip, this.now(), id)
    this.events.append({ actor: 'dhcp', type: 'bmc.address', machineId: id, lan: m.lan, mac: m.bmc.mac, detail: { from: m.bmc.address, to: ip } })
  }

  /** Machines with a BMC driver set (the power poll's list), in id order. */
  withBmc (): Machine[] {
    return (this.prepare(`${SELECT} WHERE m.bmc_driver IS NOT NULL ORDER BY m.id`).all() as Row[]).map(fromRow)
  }

  /** Machines by last known power state (on, off; unknown: never asked), among those with a BMC driver. */
  powerCounts (): Array<{ state: string; n: number }> {
    return this.prepare("SELECT coalesce(power_state, 'unknown') AS state, count(*) AS n FROM machines WHERE bmc_driver IS NOT NULL GROUP BY 1").all() as Array<{ state: string; n: number }>
  }

  /** The machine's BMC password, opened; null when none is set. */
  bmcPassword (id: number): string | null {
    const sealed = this.getPassword.get(id) as string | null | undefined
    return sealed == null ? null : this.secrets.openText(sealed, `machine:${id}:bmc.password`)
  }

  /** Records the power state a BMC reported; returns the state before (for a change event). */
  powerSeen (id: number, state: 'on' | 'off', at: number): 'on' | 'off' | null {
    const before = this.get(id)?.bmc.powerState ?? null
    this.setPower.run(state, at, id)
    return before
  }

  /** Deletes a machine (its MACs go with it; events stay); call inside a transaction. */
  delete (id: number, actor: string): Machine {
    const current = this.get(id)
    if (current === null) throw new RackbootError('RB_NOT_FOUND', `machine ${id} does not exist`, 'id')
    this.deleteMachine.run(id)
    this.events.append({ actor, type: 'machine.deleted', machineId: id, lan: current.lan, mac: current.macs[0] ?? null, detail: { hostname: current.hostname, macs: current.macs, ipv4: current.ipv4 } })
    return current
  }

  /**
   * The machine `ref` names: an id (up to 11 digits: twelve are a MAC like 525400000007), a MAC
   * (any notation) or a hostname. `by` says which, for the message when there is none.
   */
  resolve (ref: string): { machine: Machine | null; by: 'id' | 'MAC' | 'hostname' } {
    if (/^\d{1,11}$/.test(ref)) return { machine: this.get(Number(ref)), by: 'id' }
    const mac = tryParseMac(ref)
    if (mac !== null) return { machine: this.getByMac(mac), by: 'MAC' }
    const id = this.idByHostname.get(ref.toLowerCase()) as number | undefined
    return { machine: id === undefined ? null : this.get(id), by: 'hostname' }
  }

  /**
   * Normalises spellings (MACs, hostname case) and checks the rules the schema cannot:
   * the LAN exists, the reservation fits it, the image is installed, and nothing is taken by
   * another machine. Every problem is collected; one is thrown as it is, several as the first
   * with all of them in `details`.
   */
  private normalize (input: MachineInput, selfId: number | null, checkImage: boolean): Normalized {
    const { problems, value } = this.examine(input, selfId, checkImage)
    const first = problems[0]
    if (first !== undefined) {
      if (problems.length === 1) throw first
      throw new RackbootError(first.code, problems.map(p => p.message).join('; '), first.field, problems.map(p => ({ field: p.field, code: p.code, message: p.message })))
    }
    if (value === null) throw new Error('unreachable: no value without a problem')
    return value
  }

  /** Every problem registering `input` as a new machine would have (for imports, which report all of a row's). */
  problems (input: MachineInput): RackbootError[] {
    return this.examine(input, null, true).problems
  }

  private examine (input: MachineInput, selfId: number | null, checkImage: boolean): { problems: RackbootError[]; value: Normalized | null } {
    const problems: RackbootError[] = []
    const problem = (code: ConstructorParameters<typeof RackbootError>[0], message: string, field: string) => { problems.push(new RackbootError(code, message, field)) }
    const hostname = input.hostname.toLowerCase()
    const lan = this.lans().get(input.lan)
    if (lan === undefined) {
      const known = [...this.lans().keys()]
      problem('RB_LAN_UNKNOWN', `lan ${JSON.stringify(input.lan)} is not configured ${known.length > 0 ? `(configured: ${known.join(', ')})` : '(no LAN is configured yet: add one under `lans:` in the config file and reload the daemon with SIGHUP)'}`, 'lan')
    }
    const macs: string[] = []
    input.macs.forEach((raw, i) => {
      const mac = tryParseMac(raw)
      if (mac === null) { problem('RB_VALIDATION', `macs[${i}] ${JSON.stringify(raw)} is not a MAC address`, `macs[${i}]`); return }
      if (macs.includes(mac)) { problem('RB_VALIDATION', `macs[${i}] ${mac} is listed twice`, `macs[${i}]`); return }
      const owner = this.idByMac.get(mac) as number | undefined
      if (owner !== undefined && owner !== selfId) problem('RB_CONFLICT_MAC', `macs[${i}] ${mac} already belongs to machine ${owner} (${this.get(owner)?.hostname ?? '?'})`, `macs[${i}]`)
      macs.push(mac)
    })
    const hostOwner = this.idByHostname.get(hostname) as number | undefined
    if (hostOwner !== undefined && hostOwner !== selfId) problem('RB_CONFLICT_HOSTNAME', `hostname ${hostname} is already used by machine ${hostOwner}`, 'hostname')
    let ipv4: string | null = null
    if (input.ipv4 !== undefined && input.ipv4 !== null) {
      const ip = tryParseIPv4(input.ipv4)
      if (ip === null) problem('RB_VALIDATION', `ipv4 ${JSON.stringify(input.ipv4)} is not an IPv4 address`, 'ipv4')
      else if (lan !== undefined) {
        const why = reservationProblem(lan, ip)
        ipv4 = formatIPv4(ip)
        if (why !== null) problem('RB_IP_INVALID', `ipv4 ${ipv4} ${why}`, 'ipv4')
        const ipOwner = this.idByIp.get(lan.name, ipv4) as number | undefined
        if (ipOwner !== undefined && ipOwner !== selfId) problem('RB_CONFLICT_IP', `ipv4 ${ipv4} on LAN ${lan.name} is already reserved for machine ${ipOwner} (${this.get(ipOwner)?.hostname ?? '?'})`, 'ipv4')
        const pool = this.allocatedAt.get(ip, ip) as string | undefined
        if (pool !== undefined) problem('RB_CONFLICT_IP', `ipv4 ${ipv4} is allocated in IP pool ${pool} (a floating address); release it there first`, 'ipv4')
      }
    }
    const catalog = checkImage && input.image != null ? this.images?.() : undefined
    if (catalog !== undefined && input.image != null && !catalog.names.includes(input.image)) {
      problem('RB_IMAGE_UNKNOWN', `image ${JSON.stringify(input.image)} is not in boot.imagesDir (${catalog.dir}) ${catalog.names.length > 0 ? `(installed: ${catalog.names.join(', ')})` : '(no images are installed there)'}`, 'image')
    }
    // A machine DHCP has seen reported its firmware's architecture (option 93): an image it
    // cannot boot is refused, not left to fail at the iPXE prompt.
    const imageArch = input.image == null ? undefined : catalog?.arch?.get(input.image)
    const seenArch = selfId === null ? null : this.get(selfId)?.arch ?? null
    if (imageArch !== undefined && !archCanBoot(imageArch, seenArch)) {
      problem('RB_IMAGE_ARCH', `image ${JSON.stringify(input.image)} is for ${imageArch}, but this machine's firmware reported ${archName(Number(seenArch))} (DHCP option 93 = ${seenArch ?? ''})`, 'image')
    }
    if (input.installDisk != null && !INSTALL_DISK.test(input.installDisk)) {
      problem('RB_VALIDATION', `installDisk ${JSON.stringify(input.installDisk)} is not a whole-disk name: a /dev/disk/by-…/… path, a /dev path or a device name (sda, nvme0n1, vdb)`, 'installDisk')
    }
    let clusterId: number | null = null
    if (input.cluster != null) {
      clusterId = (this.clusterByName.get(input.cluster) as number | undefined) ?? null
      if (clusterId === null) problem('RB_CLUSTER_UNKNOWN', `cluster ${JSON.stringify(input.cluster)} does not exist`, 'cluster')
      if (!(CLUSTER_ROLES as readonly unknown[]).includes(input.role)) problem('RB_CLUSTER_ROLE', `a node of cluster ${input.cluster} needs role control-plane or worker (it has ${input.role == null ? 'none' : JSON.stringify(input.role)})`, 'role')
    }
    let bmcMac: string | null = null
    if (input.bmc?.mac !== undefined && input.bmc.mac !== null) {
      bmcMac = tryParseMac(input.bmc.mac)
      if (bmcMac === null) problem('RB_VALIDATION', `bmc.mac ${JSON.stringify(input.bmc.mac)} is not a MAC address`, 'bmc.mac')
    }
    if (problems.length > 0 || lan === undefined) return { problems, value: null }
    const value: Normalized = {
      hostname, macs, lan: lan.name, ipv4,
      image: input.image ?? null, role: input.role ?? null, labels: input.labels ?? {},
      bmc: {
        address: input.bmc?.address ?? null, mac: bmcMac, driver: input.bmc?.driver ?? null, port: input.bmc?.port ?? null, username: input.bmc?.username ?? null,
        cipherSuite: input.bmc?.cipherSuite ?? null, tlsVerify: input.bmc?.tlsVerify ?? null, caFile: input.bmc?.caFile ?? null,
        fingerprint: input.bmc?.fingerprint == null ? null : input.bmc.fingerprint.replace(/:/g, '').toLowerCase(), systemId: input.bmc?.systemId ?? null
      },
      state: input.state ?? 'ready', netboot: input.netboot ?? true,
      installDisk: input.installDisk ?? null, network: input.network ?? null, clusterId
    }
    return { problems, value }
  }
}
