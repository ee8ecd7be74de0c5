// Request and response schemas of the inventory API (JSON Schema via TypeBox; also the OpenAPI document).
import Type, { type Static, type TSchema } from 'typebox'
import { MAC_PATTERN } from '@rackboot/wire'
import { MACHINE_STATES } from '../store/lifecycle.js'
import { INSTALL_DISK } from '../store/machines.js'
import { namedPattern } from '../schema-errors.js'
import { Ipv4, LanName } from '../config/schema.js'

/** `type: [T, 'null']` rather than anyOf: clearer errors and faster serialisation. */
const Nullable = <T extends TSchema>(s: T) => Type.Unsafe<Static<T> | null>({ ...s, type: [(s as unknown as { type: string }).type, 'null'] })

/** `static` | `dhcp` as a plain string enum (Nullable adds `null` to its `type`). */
const NetworkMode = (o: { description?: string }) => Type.Unsafe<'static' | 'dhcp'>({ type: 'string', enum: ['static', 'dhcp'], ...o })

export const HOSTNAME_PATTERN = namedPattern('^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$', 'a valid hostname (RFC 1123: letters, digits, dashes, dot-separated labels)')
export const LABEL_KEY_PATTERN = namedPattern('^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$', 'a valid label key (letters, digits, . _ / -; at most 63)')

export const MacString = Type.String({ pattern: MAC_PATTERN, description: 'MAC address: aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or aabbccddeeff (stored as aa:bb:cc:dd:ee:ff).' })
export const MachineState = Type.Enum([...MACHINE_STATES], { description: 'Lifecycle state: discovered → ready → provisioning → (installed, for a disk image) → provisioned; failed (see stateReason).' })
const Labels = Type.Record(Type.String({ pattern: LABEL_KEY_PATTERN }), Type.String({ maxLength: 63 }), { additionalProperties: false, maxProperties: 64, description: 'Free-form key/value labels (selectors use them).' })
const Name = (description: string) => Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description })

const inputProperties = {
  hostname: Type.String({ pattern: HOSTNAME_PATTERN, description: 'Hostname (RFC 1123), unique; stored in lowercase.' }),
  macs: Type.Array(MacString, { minItems: 1, maxItems: 8, description: 'The machine\'s NIC MACs, boot NIC first. Each MAC belongs to one machine only.' }),
  lan: LanName,
  ipv4: Nullable(Ipv4('Reserved IPv4 address on its LAN: inside the subnet, outside the dynamic pool and reserved ranges; unique per LAN. null: none (a pool address).')),
  image: Nullable(Name('Netboot image name (images/<name>).')),
  role: Nullable(Name('Role, e.g. control-plane or worker.')),
  labels: Labels,
  bmc: Type.Object({
    address: Type.Optional(Nullable(Type.String({ maxLength: 253, pattern: '^[A-Za-z0-9.:-]+$', description: 'BMC address (IPv4 or host name).' }))),
    mac: Type.Optional(Nullable(MacString)),
    driver: Type.Optional(Type.Unsafe<'ipmi' | 'redfish' | null>({ type: ['string', 'null'], enum: ['ipmi', 'redfish', null], description: 'How rackboot drives it: `ipmi` (IPMI over LAN, RMCP+, through ipmitool) or `redfish` (HTTPS). null: not driven.' })),
    port: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 65535, description: 'Default 623 (IPMI) or 443 (Redfish).' }))),
    username: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\s]+$', description: 'BMC user.' }))),
    password: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 128, description: 'BMC password: write-only, stored sealed (AES-256-GCM under the secrets key), never returned (responses say `passwordSet`), never logged, never on a command line.' }))),
    cipherSuite: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 17, description: 'IPMI RMCP+ cipher suite: default 17 (HMAC-SHA256, AES-128); 3 (HMAC-SHA1) for older BMCs.' }))),
    tlsVerify: Type.Optional(Nullable(Type.Boolean({ description: 'Redfish: verify the BMC\'s TLS certificate (null: yes). Turn off only on a trusted management network.' }))),
    caFile: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 4096, description: 'Redfish: PEM file (on the rackboot host) of the CA that signed the BMC\'s certificate.' }))),
    fingerprint: Type.Optional(Nullable(Type.String({ pattern: '^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{64}$', description: 'Redfish: the SHA-256 fingerprint of the BMC\'s certificate, pinned instead of a CA (for self-signed BMC certificates); hex, colons allowed.' }))),
    systemId: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 128, description: 'Redfish: the ComputerSystem Id when the service has several.' })))
  }, { additionalProperties: false, description: 'Baseboard management controller.' }),
  state: MachineState,
  netboot: Type.Boolean({ description: 'Netboot on the next power-on (true) or boot from disk (false).' }),
  installDisk: Nullable(Type.String({ pattern: INSTALL_DISK.source, maxLength: 240, description: 'The disk a disk image is installed onto: a `/dev/disk/by-…/…` path (stable across boots), a `/dev` path or a device name (`sda`, `nvme0n1`). null: the first non-removable disk large enough for the image.' })),
  network: Nullable(NetworkMode({ description: 'How the installed OS configures its boot NIC: `static` (the reserved address, gateway, DNS, MTU and routes from the inventory, written at install time: the node keeps them while rackboot is down) or `dhcp` (from rackboot). null: the image\'s choice (`network` in its image.yaml, default static).' })),
  cluster: Nullable(Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$', description: 'The Kubernetes cluster this machine is a node of (its `role` must then be `control-plane` or `worker`). null: none. A node is given its kubeadm material through its installed OS\'s seed while it provisions.' }))
}

export const MachineInputSchema = Type.Object({
  hostname: inputProperties.hostname,
  macs: inputProperties.macs,
  lan: inputProperties.lan,
  ipv4: Type.Optional(inputProperties.ipv4),
  image: Type.Optional(inputProperties.image),
  role: Type.Optional(inputProperties.role),
  labels: Type.Optional(inputProperties.labels),
  bmc: Type.Optional(inputProperties.bmc),
  state: Type.Optional(inputProperties.state),
  netboot: Type.Optional(inputProperties.netboot),
  installDisk: Type.Optional(inputProperties.installDisk),
  network: Type.Optional(inputProperties.network),
  cluster: Type.Optional(inputProperties.cluster)
}, { additionalProperties: false, $id: 'MachineInput', description: 'A machine to register.' })

export const MachinePatchSchema = Type.Object(
  Object.fromEntries(Object.entries(inputProperties).map(([k, v]) => [k, Type.Optional(v)])) as { [K in keyof typeof inputProperties]: ReturnType<typeof Type.Optional<typeof inputProperties[K]>> },
  { additionalProperties: false, minProperties: 1, description: 'Fields to change; null clears a nullable field. `macs` replaces the whole list.' })

export const MachineSchema = Type.Object({
  id: Type.Integer(),
  hostname: Type.String(),
  macs: Type.Array(Type.String()),
  lan: Type.String(),
  ipv4: Nullable(Type.String()),
  image: Nullable(Type.String()),
  role: Nullable(Type.String()),
  labels: Type.Record(Type.String(), Type.String()),
  bmc: Type.Object({
    address: Nullable(Type.String()), mac: Nullable(Type.String()), driver: Nullable(Type.String()), port: Nullable(Type.Integer()), username: Nullable(Type.String()),
    passwordSet: Type.Boolean({ description: 'Whether a password is stored (it is never shown).' }), cipherSuite: Nullable(Type.Integer()),
    tlsVerify: Nullable(Type.Boolean()), caFile: Nullable(Type.String()), fingerprint: Nullable(Type.String()), systemId: Nullable(Type.String()),
    powerState: Nullable(Type.String({ description: 'The power state the BMC last reported (on, off); null: never asked.' })),
    powerCheckedAt: Nullable(Type.String({ format: 'date-time' }))
  }),
  state: MachineState,
  stateReason: Nullable(Type.String({ description: 'Why the machine is `failed` (e.g. `install failed: checksum-mismatch: …`); null in every other state.' })),
  netboot: Type.Boolean(),
  installDisk: Nullable(Type.String()),
  network: Nullable(NetworkMode({})),
  cluster: Nullable(Type.String()),
  clusterStatus: Nullable(Type.Unsafe<'pending' | 'running' | 'joined' | 'failed'>({ type: 'string', enum: ['pending', 'running', 'joined', 'failed'], description: 'Its kubeadm run in its cluster: `pending` (not yet given its material), `running` (kubeadm runs), `joined` (kubeadm init or join succeeded), `failed` (see clusterReason).' })),
  clusterReason: Nullable(Type.String({ description: 'Why clusterStatus is `failed`: the failing step and the last lines of its output.' })),
  arch: Nullable(Type.String({ description: 'Client architecture seen at the last boot (DHCP option 93).' })),
  uuid: Nullable(Type.String({ description: 'SMBIOS UUID seen at the last boot (DHCP option 97).' })),
  firstSeen: Nullable(Type.String({ format: 'date-time' })),
  lastSeen: Nullable(Type.String({ format: 'date-time' })),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
}, { $id: 'Machine' })

export const Page = <T extends TSchema>(item: T) => Type.Object({
  items: Type.Array(item),
  next: Nullable(Type.String({ description: 'Cursor for the next page (pass as `after`); null on the last page.' }))
})

export const ErrorSchema = Type.Object({
  code: Type.String({ description: 'Stable RB_* code (docs/api.md, "Error codes").' }),
  message: Type.String(),
  field: Type.Optional(Type.String({ description: 'The request field at fault, e.g. body.macs[0].' })),
  errors: Type.Optional(Type.Array(Type.Object({
    row: Type.Optional(Type.Integer({ description: 'Import row (1 = first record).' })),
    line: Type.Optional(Type.Integer({ description: 'CSV line number.' })),
    field: Type.Optional(Type.String()),
    code: Type.String(),
    message: Type.String()
  })))
}, { $id: 'Error' })

export const LanSchema = Type.Object({
  name: Type.String(),
  interface: Nullable(Type.String()),
  relay: Type.Boolean(),
  subnet: Type.String(),
  address: Type.String(),
  gateway: Nullable(Type.String({ description: 'The first router (option 3).' })),
  gateways: Type.Array(Type.String(), { description: 'Every router handed out in option 3, in order.' }),
  dns: Type.Array(Type.String()),
  leaseTime: Type.Integer({ description: 'Seconds.' }),
  unknownMachines: Type.String(),
  pool: Nullable(Type.Object({
    range: Type.String(),
    size: Type.Integer(),
    leased: Type.Integer({ description: 'Active (offered or bound, unexpired) leases inside the pool.' }),
    free: Type.Integer()
  })),
  machines: Type.Integer({ description: 'Machines registered on this LAN.' }),
  reservations: Type.Integer({ description: 'Machines with a reserved address on this LAN.' }),
  activeLeases: Type.Integer({ description: 'Active leases on this LAN, reserved and pool.' })
})

export const LeaseSchema = Type.Object({
  lan: Type.String(),
  ipv4: Type.String(),
  mac: Type.String(),
  machineId: Nullable(Type.Integer()),
  state: Type.String(),
  clientId: Nullable(Type.String()),
  hostname: Nullable(Type.String()),
  startsAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
})

export const EventSchema = Type.Object({
  id: Type.Integer(),
  ts: Type.String({ format: 'date-time' }),
  actor: Type.String({ description: 'Who: an API token name, or a service (dhcp, tftp, boot, system).' }),
  type: Type.String({ description: 'What, e.g. machine.created, lease.bound, dhcp.wrong-lan.' }),
  machineId: Nullable(Type.Integer()),
  lan: Nullable(Type.String()),
  mac: Nullable(Type.String()),
  detail: Type.Record(Type.String(), Type.Unknown())
})

/** A machine in a path: its id, a MAC (any notation) or its hostname. */
export const IdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9:._-]{0,252}$', description: 'Machine id, a MAC of it (any notation) or its hostname.' }) })
export const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Page size (1-1000).' })

export type MachineInputBody = Static<typeof MachineInputSchema>
export type MachinePatchBody = Static<typeof MachinePatchSchema>
