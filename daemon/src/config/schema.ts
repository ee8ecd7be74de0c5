// The one definition of rackboot's configuration: runtime JSON Schema (validation),
// static type (Static<>), generated config/rackboot.schema.json and the key table of docs/configuration.md.
import Type, { type Static } from 'typebox'
import { MAC_PATTERN } from '@rackboot/wire'
import { namedPattern } from '../schema-errors.js'

const IPV4_TEXT = '^(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)$'
const IPV4 = namedPattern(IPV4_TEXT, 'an IPv4 address')
const CIDR = namedPattern(IPV4_TEXT.slice(0, -1) + '/(?:3[0-2]|[12]?\\d)$', 'a subnet in CIDR notation (e.g. 10.77.0.0/24)')
namedPattern(MAC_PATTERN, 'a MAC address (aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or aabbccddeeff)')
const HOST_PORT = namedPattern('^(?:[0-9.]+|\\[[0-9A-Fa-f:.]+\\]|localhost):\\d{1,5}$', 'an address:port such as 127.0.0.1:9080')
const DURATION = namedPattern('^\\d+(?:s|m|h|d)?$', 'a duration such as 3600, 90s, 30m, 1h or 7d')
const DOMAIN = namedPattern('^[A-Za-z0-9.-]{1,253}$', 'a domain name')

export const Ipv4 = (description: string) => Type.String({ pattern: IPV4, description })
export const Mac = (description: string) => Type.String({ pattern: MAC_PATTERN, description })

const HostPort = (description: string, dflt: string) =>
  Type.String({ pattern: HOST_PORT, description, default: dflt })

const Duration = (description: string, dflt: string) =>
  Type.String({ pattern: DURATION, description: description + ' Units: s, m, h, d (no unit = seconds).', default: dflt })

export const LanName = Type.String({ pattern: namedPattern('^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$', 'a valid name (lowercase letters, digits and dashes, at most 32, starting and ending with a letter or digit)'), description: 'Unique LAN name (lowercase letters, digits, dashes; at most 32). Machines refer to it.' })

export const LanSchema = Type.Object({
  name: LanName,
  mode: Type.Enum(['full', 'proxy'], { default: 'full', description: '`full` (default): rackboot is the LAN\'s DHCP server. `proxy`: another DHCP server (the colo\'s, a router\'s) hands out the addresses and rackboot adds only the boot information (proxyDHCP, PXE 2.1): it answers PXE and iPXE clients\' DISCOVERs with an offer carrying no address, only the boot file and next server (or the iPXE script URL), serves their boot file requests on UDP port 4011, stores no leases, and answers nothing else. Machines are still matched by MAC. A proxy LAN needs `interface`, and refuses the keys that only a full DHCP server uses (pool, leaseTime, renewalTime, rebindingTime, leaseIdentity, reserved, gateway, dns, domain, domainSearch, ntp, mtu, routes, options, management, and unknownMachines other than `ignore`).' }),
  interface: Type.Optional(Type.String({ pattern: namedPattern('^[A-Za-z0-9_.:@-]{1,15}$', 'an interface name (at most 15 characters)'), description: 'Local interface this LAN is attached to (e.g. a bridge). DHCP is served on it only. Exactly one of `interface` or `relay`.' })),
  relay: Type.Optional(Type.Boolean({ description: 'The LAN is reached through a DHCP relay: requests are matched to it by `giaddr`. Exactly one of `interface` or `relay`.' })),
  subnet: Type.String({ pattern: CIDR, description: 'The LAN\'s IPv4 subnet, e.g. 10.77.0.0/24. Subnets of different LANs may not overlap.' }),
  address: Ipv4('This host\'s address on the LAN (DHCP server identifier, next-server, boot URLs). For a relayed LAN: the address the relay forwards to.'),
  gateway: Type.Optional(Type.Union([
    Ipv4('Router'),
    Type.Array(Ipv4('Router'), { minItems: 1, maxItems: 8 })
  ], { description: 'Default router handed to clients (option 3): one address, or a list in order of preference (option 3 carries them all; the first is the one used for the default route of option 121 and the `{gateway}` template value). Required on relayed LANs (the relay\'s side of the subnet).' })),
  dns: Type.Optional(Type.Array(Ipv4('DNS server'), { maxItems: 8, description: 'DNS servers handed to clients (option 6).' })),
  domain: Type.Optional(Type.String({ pattern: DOMAIN, description: 'Domain name (option 15).' })),
  domainSearch: Type.Optional(Type.Array(Type.String({ pattern: DOMAIN }), { maxItems: 16, description: 'Domain search list (option 119).' })),
  ntp: Type.Optional(Type.Array(Ipv4('NTP server'), { maxItems: 8, description: 'NTP servers (option 42).' })),
  mtu: Type.Optional(Type.Integer({ minimum: 576, maximum: 9216, description: 'Interface MTU for clients (option 26).' })),
  pool: Type.Optional(Type.String({ description: 'Dynamic range `first-last` for machines without a reservation (and `discover`). Optional: without it only reserved machines get addresses.' })),
  reserved: Type.Optional(Type.Array(Type.String(), { description: 'Addresses or ranges (`a.b.c.d` or `first-last`) that DHCP never hands out and machines may not reserve: routers, switches, VIPs. The pool may not overlap them.' })),
  routes: Type.Optional(Type.Array(Type.Object({
    destination: Type.String({ pattern: CIDR, description: 'Destination subnet.' }),
    gateway: Ipv4('Router for it, on this LAN.')
  }, { additionalProperties: false }), { maxItems: 32, description: 'Classless static routes handed to clients (option 121; the default route comes from `gateway`).' })),
  options: Type.Optional(Type.Array(Type.Object({
    code: Type.Integer({ minimum: 1, maximum: 254, description: 'DHCP option code.' }),
    text: Type.Optional(Type.String({ maxLength: 1024, description: 'Value as text (bytes of the UTF-8 string).' })),
    hex: Type.Optional(Type.String({ pattern: namedPattern('^(?:[0-9A-Fa-f]{2}(?::?))*$', 'hex bytes (0a:0b or 0a0b)'), maxLength: 2048, description: 'Value as hex bytes (`0a:0b` or `0a0b`).' })),
    ipv4: Type.Optional(Type.Array(Ipv4('address'), { minItems: 1, maxItems: 63, description: 'Value as a list of IPv4 addresses.' })),
    u8: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    u16: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    u32: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 }))
  }, { additionalProperties: false }), { maxItems: 64, description: 'Custom options by code, each with exactly one of `text`, `hex`, `ipv4`, `u8`, `u16`, `u32`. Sent when the client asks for the code (option 55). Codes rackboot sets itself are refused.' })),
  leaseTime: Duration('Lease time handed to clients.', '1h'),
  renewalTime: Type.Optional(Type.String({ pattern: DURATION, description: 'Renewal time T1 (option 58) handed to clients; default half the lease time. Must be shorter than `rebindingTime`. Units: s, m, h, d (no unit = seconds).' })),
  rebindingTime: Type.Optional(Type.String({ pattern: DURATION, description: 'Rebinding time T2 (option 59) handed to clients; default 7/8 of the lease time. Must be shorter than `leaseTime`. Units: s, m, h, d (no unit = seconds).' })),
  nextServer: Type.Optional(Ipv4('TFTP server for PXE firmware (`siaddr`, the "next server"), for a LAN whose TFTP server is another host. Default: `address` (rackboot\'s own TFTP server).')),
  management: Type.Boolean({ default: false, description: 'A management LAN, where machines\' BMCs get their addresses: a DHCP request from a MAC that is some machine\'s `bmc.mac` gets that machine\'s `bmc.address` when it is an address of this LAN (a reservation), else a pool address, which rackboot then records as the machine\'s `bmc.address`. Other MACs follow `unknownMachines`.' }),
  provisionWithBmc: Type.Boolean({ default: false, description: 'Machines on this LAN that have a BMC driver set are reprovisioned through it even without `{"power": true}`: PXE for the next boot, then a power cycle (or on). Machines without BMC settings are reprovisioned as usual (they wait for someone to power them on).' }),
  ipv6RouterAnswer: Type.Enum(['auto', 'off'], { default: 'auto', description: 'Answer IPv6 router solicitations on this LAN\'s interface with a router advertisement that configures nothing (router lifetime 0, no prefixes, managed and other-config flags off), so iPXE does not wait about 16 s for IPv6 on every boot. `auto` (default): answer until another IPv6 router is heard advertising on the LAN, then stay silent (logged once, an `ipv6.router-heard` event); only in answer to solicitations, rate-limited. `off`: never send. Needs CAP_NET_RAW; LANs with `interface` only (a relayed LAN is not on this host\'s link).' }),
  installStreams: Type.Integer({ minimum: 1, maximum: 1024, default: 8, description: 'How many installers on this LAN may download their disk image at once; the others wait their turn (they get 503 with Retry-After and say so on their console), so a rack powering on at once shares the link instead of timing out.' }),
  leaseIdentity: Type.Enum(['mac', 'client-id'], { default: 'mac', description: 'What a dynamic-pool lease belongs to. `mac` (default): the hardware address, whatever client identifier (option 61) is sent, because one machine\'s firmware, iPXE and installed OS send different identifiers and must keep one address (Kea\'s `match-client-id: false`). `client-id`: the client identifier when the client sends one (RFC 2131 §4.2), so two clients behind one MAC get separate leases and a RELEASE or DECLINE under another identifier changes nothing. Reservations always follow the MAC.' }),
  unknownMachines: Type.Enum(['ignore', 'discover', 'lease'], { default: 'ignore', description: 'What to do with a MAC not in the inventory: `ignore` (no answer), `discover` (a pool address and a `discovered` machine record, so the operator can adopt it) or `lease` (a pool address and nothing else, like a plain DHCP server).' }),
  maxDiscovered: Type.Integer({ minimum: 0, maximum: 100000, default: 1024, description: 'With `unknownMachines: discover`: the most `discovered` machine records the LAN may hold. Beyond it unknown MACs get no answer, each counted (`rackboot_dhcp_dropped_total{reason="discover-limit"}`) and a `dhcp.discover-limit` event recorded once a minute; adopt or delete discovered machines to make room.' })
}, { additionalProperties: false })

export const ConfigSchema = Type.Object({
  dataDir: Type.String({ default: './var', minLength: 1, description: 'Directory for the SQLite database and state. Relative paths are relative to the working directory.' }),
  sqliteSync: Type.Enum(['normal', 'full'], { default: 'normal', description: 'When SQLite waits for the disk. `normal`: every write (a lease before its ACK, an API change before its answer) is committed to the write-ahead log before rackboot acts on it and survives a crash or kill of rackboot; a power cut may lose the last moments before the last checkpoint (as Kea\'s memfile). `full`: also waits for the disk on every commit, surviving power loss, at roughly half the DHCP lease rate.' }),
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
    tftp: HostPort('Address:port of the TFTP server (iPXE binaries for PXE firmware). Serves only while at least one LAN is configured.', '0.0.0.0:69'),
    ipxeDir: Type.String({ default: '/usr/lib/ipxe', minLength: 1, description: 'Directory with iPXE binaries (Debian: `apt install ipxe`), served over TFTP and (for UEFI HTTP boot) at /ipxe/. A file here may be a symlink to a regular file elsewhere, as Debian links ipxe.efi to /boot/ipxe.efi: only root should be able to write this directory.' }),
    tftpRoot: Type.Optional(Type.String({ minLength: 1, description: 'Optional extra directory served over TFTP (and at /ipxe/); its files take precedence over `ipxeDir` (e.g. a custom iPXE build). Symlinks are followed only when they stay inside it.' })),
    tftpLimits: Type.Object({
      maxTransfers: Type.Integer({ minimum: 1, maximum: 10000, default: 256, description: 'Concurrent TFTP transfers overall; requests beyond get TFTP error 0 "Server busy".' }),
      maxTransfersPerClient: Type.Integer({ minimum: 1, maximum: 1000, default: 8, description: 'Concurrent TFTP transfers per client address.' }),
      maxBlksize: Type.Integer({ minimum: 512, maximum: 65464, default: 1468, description: 'Largest `blksize` granted (RFC 2348). 1468 fits a 1500-byte MTU without fragmentation.' }),
      maxWindowsize: Type.Integer({ minimum: 1, maximum: 65535, default: 64, description: 'Largest `windowsize` granted (RFC 7440); 1 disables windowing.' }),
      deadline: Duration('A TFTP transfer is abandoned when no new block was acknowledged for this long.', '30s'),
      fileCacheBytes: Type.Integer({ minimum: 0, maximum: 1024 * 1024 * 1024, default: 64 * 1024 * 1024, description: 'Memory, per served directory, for TFTP file contents kept after their first read (files up to 1/8 of it), so a boot storm reads each iPXE binary from disk once; the checks of a path (inside the directory, a regular file) are then reused for up to 1 s, so a changed, new or removed file is seen within a second. 0 disables both: every request is checked and read anew.' }),
      busyPollUs: Type.Integer({ minimum: 0, maximum: 10000, default: 300, description: 'After sending, the TFTP service polls for the next ACK for up to this many microseconds instead of sleeping: lockstep clients (most PXE firmware) are served without the wake-up latency of an idle CPU, and in a boot storm the clients\' packets do not have to wake the daemon one by one. Costs CPU (up to one core) only while transfers run. 0 disables.' })
    }, { additionalProperties: false, default: {}, description: 'TFTP limits and tuning.' }),
    imagesDir: Type.String({ default: './images', minLength: 1, description: 'Directory with image definitions (`<name>/image.yaml`: netboot images, and disk images that rackboot installs).' }),
    files: Type.Object({
      bios: Type.String({ default: 'undionly.kpxe', minLength: 1, description: 'iPXE for BIOS PXE ROMs (client architecture 0), fetched over TFTP.' }),
      efiX64: Type.String({ default: 'ipxe.efi', minLength: 1, description: 'iPXE for x86-64 UEFI (architectures 6, 7, 9): `ipxe.efi` (iPXE\'s drivers) or `snponly.efi` (the firmware\'s network driver).' }),
      efiArm64: Type.String({ default: 'ipxe-arm64.efi', minLength: 1, description: 'iPXE for arm64 UEFI (architecture 11).' })
    }, { additionalProperties: false, default: {}, description: 'iPXE binaries handed to PXE firmware, by architecture.' }),
    tokenTtl: Duration('How long a one-time boot token (in phone_home_url and metadata_url) stays valid after its script was served.', '2h'),
    ipxeScriptUrl: Type.String({ default: 'http://{address}:{httpPort}/boot/ipxe?mac={mac}', minLength: 1, description: 'URL handed to clients already running iPXE: their per-machine script. Placeholders: `{address}` (the LAN\'s address), `{httpPort}` (of `boot.http`), `{mac}`, `{arch}`.' }),
    httpBootUrl: Type.String({ default: 'http://{address}:{httpPort}/ipxe/{file}', minLength: 1, description: 'URL handed to UEFI HTTP-boot clients (architectures 15, 16, 19): the iPXE binary over HTTP. Placeholders: `{address}`, `{httpPort}`, `{file}`.' })
  }, { additionalProperties: false, default: {}, description: 'Netboot services.' }),
  dhcp: Type.Object({
    enabled: Type.Boolean({ default: true, description: 'Serve DHCP on the configured LANs. `false` keeps the inventory and boot services without answering DHCP (e.g. while another DHCP server still runs).' }),
    offerHold: Duration('How long an offered address stays held for the client that was offered it.', '30s'),
    declineQuarantine: Duration('How long an address a client declined (found in use, RFC 2131 DHCPDECLINE) is kept out of the pool.', '10m'),
    ratePerMac: Type.Integer({ minimum: 1, maximum: 10000, default: 20, description: 'Packets per second accepted from one MAC (bursts of twice that); more are dropped and counted.' }),
    conflictCheck: Type.Object({
      enabled: Type.Boolean({ default: true, description: 'Before offering a pool address to a client that does not hold it yet, send it one ICMP echo request; an answer means another host uses the address without a lease: it is kept out of the pool for `dhcp.declineQuarantine` (a `dhcp.conflict` event) and the next free address is tried. Never for reservations, never for an address the client already holds. Only the client waiting for the probe waits; needs CAP_NET_RAW (without it, offers go out unprobed and the log says so once).' }),
      timeoutMs: Type.Integer({ minimum: 10, maximum: 5000, default: 200, description: 'How long the conflict check waits for an echo reply, in milliseconds; this delays the first OFFER of a new pool address by as much.' })
    }, { additionalProperties: false, default: {}, description: 'The address conflict check before pool offers (Kea\'s ping-check, dnsmasq\'s default).' })
  }, { additionalProperties: false, default: {}, description: 'DHCP server behaviour (all LANs).' }),
  secrets: Type.Object({
    keyFile: Type.Optional(Type.String({ minLength: 1, description: 'File with the 32-byte key that seals secrets at rest (cluster CA keys, bootstrap tokens, BMC passwords) with AES-256-GCM: 32 raw bytes, 64 hex digits or base64. It must be mode 0600 (not readable by group or others). Default: `<dataDir>/secrets.key`, created on first start. Back it up apart from the database: without it the sealed secrets cannot be opened, and the daemon refuses to start with a key that is not the one the database was sealed with.' }))
  }, { additionalProperties: false, default: {}, description: 'Secrets at rest.' }),
  clusters: Type.Object({
    bootstrapTokenTtl: Duration('How long a kubeadm bootstrap token rackboot mints is valid (the init node creates the cluster\'s first one with this expiry).', '24h'),
    joinMargin: Duration('A joining node is given the bootstrap token only while it stays valid this long; after that, rackboot gives it a short-lived bootstrap client certificate instead (see docs/clusters.md).', '1h'),
    bootstrapCertTtl: Duration('Validity of the bootstrap client certificate a node that joins after the token expired is given.', '2h'),
    kubeconfigTtl: Duration('Validity of the admin client certificate in a kubeconfig from GET /api/v1/clusters/{name}/kubeconfig.', '24h'),
    kubeVipImage: Type.String({ default: 'ghcr.io/kube-vip/kube-vip:v0.8.9', minLength: 1, description: 'The kube-vip container image the control planes\' static pod runs to hold a pool-allocated control-plane VIP (use a mirror if the nodes cannot reach ghcr.io).' })
  }, { additionalProperties: false, default: {}, description: 'Kubernetes clusters rackboot bootstraps.' }),
  bmc: Type.Object({
    ipmitool: Type.String({ default: 'ipmitool', minLength: 1, description: 'The ipmitool binary rackboot drives IPMI BMCs with (Debian: `apt install ipmitool`).' }),
    timeout: Duration('How long ipmitool waits for each answer from a BMC.', '2s'),
    attempts: Type.Integer({ minimum: 1, maximum: 10, default: 3, description: 'Tries per BMC operation when the BMC does not answer or is busy (never for a refused password: no lock-out storm), with a doubling backoff from 1 s.' }),
    deadline: Duration('No BMC operation (all its tries) takes longer.', '60s'),
    pollInterval: Duration('How often rackboot asks every BMC-driven machine\'s BMC for its power state, one BMC at a time (the last known state, a metric and an event when it changes). 0: never (the default; the API and CLI still ask on demand).', '0')
  }, { additionalProperties: false, default: {}, description: 'Driving machines\' BMCs (power, boot device).' }),
  lans: Type.Array(LanSchema, { default: [], description: 'The private LANs rackboot serves DHCP on. None by default: no DHCP until a LAN is configured.' })
}, { additionalProperties: false, $id: 'https://rackboot.dev/schema/config.json', title: 'rackboot configuration' })

export type Config = Static<typeof ConfigSchema>
export type LanConfig = Static<typeof LanSchema>
