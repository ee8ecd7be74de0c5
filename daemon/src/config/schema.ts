// The one definition of rackboot's configuration: runtime JSON Schema (validation),
// static type (Static<>), generated config/rackboot.schema.json and the README key table.
import Type, { type Static } from 'typebox'
import { MAC_PATTERN } from '../net/ipv4.js'

const IPV4 = '^(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)$'
const CIDR = IPV4.slice(0, -1) + '/(?:3[0-2]|[12]?\\d)$'

export const Ipv4 = (description: string) => Type.String({ pattern: IPV4, description })
export const Mac = (description: string) => Type.String({ pattern: MAC_PATTERN, description })

const HostPort = (description: string, dflt: string) =>
  Type.String({ pattern: '^(?:[0-9.]+|\\[[0-9A-Fa-f:.]+\\]|localhost):\\d{1,5}$', description, default: dflt })

const Duration = (description: string, dflt: string) =>
  Type.String({ pattern: '^\\d+(?:s|m|h|d)?$', description: description + ' Units: s, m, h, d (no unit = seconds).', default: dflt })

export const LanName = Type.String({ pattern: '^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$', description: 'Unique LAN name (lowercase letters, digits, dashes; at most 32). Machines refer to it.' })

export const LanSchema = Type.Object({
  name: LanName,
  interface: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.:@-]{1,15}$', description: 'Local interface this LAN is attached to (e.g. a bridge). DHCP is served on it only. Exactly one of `interface` or `relay`.' })),
  relay: Type.Optional(Type.Boolean({ description: 'The LAN is reached through a DHCP relay: requests are matched to it by `giaddr`. Exactly one of `interface` or `relay`.' })),
  subnet: Type.String({ pattern: CIDR, description: 'The LAN\'s IPv4 subnet, e.g. 10.77.0.0/24. Subnets of different LANs may not overlap.' }),
  address: Ipv4('This host\'s address on the LAN (DHCP server identifier, next-server, boot URLs). For a relayed LAN: the address the relay forwards to.'),
  gateway: Type.Optional(Ipv4('Default router handed to clients (option 3). Required on relayed LANs (it is the relay\'s side of the subnet).')),
  dns: Type.Optional(Type.Array(Ipv4('DNS server'), { maxItems: 8, description: 'DNS servers handed to clients (option 6).' })),
  domain: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9.-]{1,253}$', description: 'Domain name (option 15).' })),
  domainSearch: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9.-]{1,253}$' }), { maxItems: 16, description: 'Domain search list (option 119).' })),
  ntp: Type.Optional(Type.Array(Ipv4('NTP server'), { maxItems: 8, description: 'NTP servers (option 42).' })),
  mtu: Type.Optional(Type.Integer({ minimum: 576, maximum: 9216, description: 'Interface MTU for clients (option 26).' })),
  pool: Type.Optional(Type.String({ description: 'Dynamic range `first-last` for machines without a reservation (and `discover`). Optional: without it only reserved machines get addresses.' })),
  reserved: Type.Optional(Type.Array(Type.String(), { description: 'Addresses or ranges (`a.b.c.d` or `first-last`) that DHCP never hands out and machines may not reserve: routers, switches, VIPs. The pool may not overlap them.' })),
  leaseTime: Duration('Lease time handed to clients.', '1h'),
  unknownMachines: Type.Enum(['ignore', 'discover'], { default: 'ignore', description: 'What to do with a MAC not in the inventory: `ignore` (no answer) or `discover` (a pool address and a `discovered` machine record).' })
}, { additionalProperties: false })

export const ConfigSchema = Type.Object({
  dataDir: Type.String({ default: './var', minLength: 1, description: 'Directory for the SQLite database and state. Relative paths are relative to the working directory.' }),
  log: Type.Object({
    level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], { default: 'info', description: 'Log level.' }),
    format: Type.Enum(['auto', 'json', 'pretty'], { default: 'auto', description: '`json` (one object a line, for journald), `pretty` (for a terminal) or `auto` (pretty when stdout is a terminal).' })
  }, { additionalProperties: false, default: {}, description: 'Logging.' }),
  api: Type.Object({
    listen: HostPort('Address:port of the inventory API (bearer-token authenticated). Keep it on loopback or a management network.', '127.0.0.1:9080'),
    bodyLimit: Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, default: 16 * 1024 * 1024, description: 'Largest accepted request body in bytes (bulk imports).' })
  }, { additionalProperties: false, default: {}, description: 'Inventory API server.' }),
  boot: Type.Object({
    http: HostPort('Address:port of the boot HTTP server (iPXE scripts, images; unauthenticated, LAN-facing).', '0.0.0.0:8080'),
    tftp: HostPort('Address:port of the TFTP server (iPXE binaries for PXE firmware).', '0.0.0.0:69'),
    ipxeDir: Type.String({ default: '/usr/lib/ipxe', minLength: 1, description: 'Directory with iPXE binaries (Debian: `apt install ipxe`).' }),
    imagesDir: Type.String({ default: './images', minLength: 1, description: 'Directory with netboot image definitions (`<name>/image.yaml`).' })
  }, { additionalProperties: false, default: {}, description: 'Netboot services.' }),
  lans: Type.Array(LanSchema, { default: [], description: 'The private LANs rackboot serves DHCP on. None by default: no DHCP until a LAN is configured.' })
}, { additionalProperties: false, $id: 'https://rackboot.dev/schema/config.json', title: 'rackboot configuration' })

export type Config = Static<typeof ConfigSchema>
export type LanConfig = Static<typeof LanSchema>
