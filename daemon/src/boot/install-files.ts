// The per-machine files the installer puts onto a freshly written disk (GET
// /boot/install/{token}/files): the hostname, the network configuration, and where cloud-init
// finds the machine's seed. Pure: the machine, its LAN and the seed URL in, files out; the
// boot server packs them into a tar.
import { pack } from 'tar-stream'
import { gatewayList, type Lan } from '../config/lan.js'
import type { Machine, NetworkMode } from '../store/machines.js'

export interface InstallFile { path: string; mode: number; content: string }

export interface InstallNetwork {
  mode: NetworkMode
  /** Why this mode: the operator reads it in the timeline. */
  why: string
}

/**
 * How the installed OS configures its boot NIC: the machine's `network`, else the image's;
 * static needs a reserved address (a pool address is only leased, so it falls back to DHCP).
 */
export function installNetwork (machine: Pick<Machine, 'network' | 'ipv4'>, imageNetwork: NetworkMode, lan: Lan | undefined): InstallNetwork {
  const wanted = machine.network ?? imageNetwork
  const from = machine.network !== null ? 'the machine\'s network setting' : 'the image\'s network setting'
  if (wanted === 'dhcp') return { mode: 'dhcp', why: `DHCP from rackboot (${from})` }
  if (machine.ipv4 === null) return { mode: 'dhcp', why: 'DHCP: the machine has no reserved address to configure statically' }
  if (lan === undefined) return { mode: 'dhcp', why: 'DHCP: the machine\'s LAN is not configured' }
  return { mode: 'static', why: `static ${machine.ipv4}/${lan.subnet.prefix} from the inventory (${from})` }
}

/** The systemd-networkd unit for the static configuration of `mac`. */
export function staticNetworkUnit (machine: Pick<Machine, 'id' | 'ipv4'>, lan: Lan, mac: string): string {
  const c = lan.config
  const lines = [
    `# Written by rackboot when it installed this machine (machine ${machine.id}, LAN ${lan.name}): the`,
    '# reserved address and the LAN\'s settings from rackboot\'s inventory, so that the node keeps',
    '# its address while rackboot is down. Reprovision the machine to change it.',
    '[Match]',
    `MACAddress=${mac}`,
    ''
  ]
  if (c.mtu !== undefined) lines.push('[Link]', `MTUBytes=${c.mtu}`, '')
  lines.push('[Network]', `Address=${machine.ipv4 ?? ''}/${lan.subnet.prefix}`)
  for (const g of gatewayList(c)) lines.push(`Gateway=${g}`)
  for (const d of c.dns ?? []) lines.push(`DNS=${d}`)
  const domains = [...(c.domain === undefined ? [] : [c.domain]), ...(c.domainSearch ?? [])]
  if (domains.length > 0) lines.push(`Domains=${[...new Set(domains)].join(' ')}`)
  lines.push('IPv6AcceptRA=no', '')
  for (const r of c.routes ?? []) lines.push('[Route]', `Destination=${r.destination}`, `Gateway=${r.gateway}`, '')
  return lines.join('\n')
}

/** Every file for the installed root, paths relative to it. */
export function installFiles (machine: Pick<Machine, 'id' | 'hostname' | 'ipv4'>, o: { lan: Lan | undefined; mac: string; network: InstallNetwork; seedUrl: string }): InstallFile[] {
  const domain = o.lan?.config.domain
  const names = domain === undefined ? machine.hostname : `${machine.hostname}.${domain} ${machine.hostname}`
  const files: InstallFile[] = [
    { path: 'etc/hostname', mode: 0o644, content: `${machine.hostname}\n` },
    {
      path: 'etc/hosts',
      mode: 0o644,
      content: `127.0.0.1 localhost\n${o.network.mode === 'static' ? machine.ipv4 ?? '127.0.1.1' : '127.0.1.1'} ${names}\n::1 localhost ip6-localhost ip6-loopback\n`
    },
    {
      path: 'etc/cloud/cloud.cfg.d/91-rackboot-seed.cfg',
      mode: 0o600,
      content: '# Written by rackboot when it installed this machine: where cloud-init fetches its seed.\n' +
        '# The URL carries a one-time token, accepted until the node phones home.\n' +
        `datasource:\n  NoCloud:\n    seedfrom: ${o.seedUrl}\n`
    }
  ]
  if (o.network.mode === 'static' && o.lan !== undefined) {
    files.push({ path: 'etc/systemd/network/10-rackboot.network', mode: 0o644, content: staticNetworkUnit(machine, o.lan, o.mac) })
    // The image's DHCP unit, emptied: systemd-networkd skips an empty .network file, so no NIC
    // asks DHCP behind the static configuration's back.
    files.push({ path: 'etc/systemd/network/80-rackboot-dhcp.network', mode: 0o644, content: '' })
  }
  return files
}

/** The files as a tar archive (ustar, owned by root; tar-stream, not a hand-written tar header). */
export async function tarOf (files: readonly InstallFile[], mtime: Date): Promise<Buffer> {
  const p = pack()
  const chunks: Buffer[] = []
  const done = new Promise<Buffer>((resolve, reject) => {
    p.on('data', (c: unknown) => chunks.push(c as Buffer))
    p.on('end', () => { resolve(Buffer.concat(chunks)) })
    p.on('error', reject)
  })
  // Files only: their directories are the image's, and a directory entry would reset their modes.
  for (const f of files) p.entry({ name: f.path, mode: f.mode, uid: 0, gid: 0, mtime }, f.content)
  p.finalize()
  return await done
}
