// The `rackboot` command line as commander definitions: every command, option and help text
// lives here once, so `--help`, the docs (gen-docs) and the parser cannot drift apart.
// run() returns an exit code and writes to the given streams, so tests can call it; `serve`
// is handed in by main.ts, which owns the process.
import { Argument, Command, CommanderError, Option } from 'commander'
import { ConfigError } from '../config/errors.js'
import { RackbootError } from '../errors.js'
import { VERSION } from '../version.js'
import { ApiClientError } from './client.js'
import * as act from './commands.js'
import { UsageError, type Io } from './commands.js'

export type { Io } from './commands.js'

export interface RunHooks {
  /** `rackboot serve`: runs the daemon until it stops; resolves to the exit code. */
  serve?: (opts: { config?: string }) => Promise<number>
}

const HELP_WIDTH = 100

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

const configOption = () => new Option('--config <file>', 'config file (default: the embedded config/rackboot.yaml)')
const jsonOption = () => new Option('--json', 'print JSON for scripts instead of a table')

/** Options every API client command takes. */
function clientCommand (cmd: Command): Command {
  return cmd
    .option('--api <url>', 'API base URL (env RACKBOOT_API; default http://127.0.0.1:9080)')
    .option('--token-file <file>', 'read the API token from this file (env RACKBOOT_TOKEN; a token is never taken on the command line)')
}

function machineFields (cmd: Command, forSet: boolean): Command {
  return cmd
    .option('--hostname <name>', forSet ? 'new hostname' : 'hostname (RFC 1123)')
    .option('--mac <mac>', forSet ? 'replace the MACs (repeat for several)' : 'a MAC of the machine, any notation (repeat for several NICs)', collect)
    .option('--lan <lan>', forSet ? 'move to another LAN' : 'the LAN it boots on (a configured lans[].name)')
    .option('--ip <address>', 'reserved IPv4 address on its LAN (\'\' clears)')
    .option('--image <name>', 'image to netboot (a directory in boot.imagesDir; \'\' clears)')
    .option('--role <role>', 'role, e.g. control-plane or worker (\'\' clears)')
    .option('--label <k=v>', 'a label (repeat for several)', collect)
    .option('--bmc-address <address>', 'BMC address (\'\' clears)')
    .option('--bmc-mac <mac>', 'BMC MAC (\'\' clears)')
    .option('--bmc-driver <driver>', 'drive the BMC with: ipmi or redfish (\'\' clears)')
    .option('--bmc-port <port>', 'BMC port (default 623 for IPMI; \'\' clears)')
    .option('--bmc-user <name>', 'BMC user (\'\' clears)')
    .option('--bmc-password-file <file>', 'read the BMC password from this file (- for stdin); it is never taken on the command line, stored sealed, never shown')
    .option('--bmc-cipher-suite <n>', 'IPMI cipher suite: 17 (default) or 3 for older BMCs (\'\' clears)')
    .option('--bmc-ca-file <file>', 'Redfish: PEM file of the CA that signed the BMC\'s certificate (\'\' clears)')
    .option('--bmc-fingerprint <sha256>', 'Redfish: pin the BMC certificate\'s SHA-256 fingerprint instead of a CA (\'\' clears)')
    .option('--bmc-insecure', 'Redfish: do not verify the BMC\'s TLS certificate')
    .option('--bmc-verify', 'Redfish: verify it (the default)')
    .option('--bmc-system-id <id>', 'Redfish: the system\'s Id when the service has several (\'\' clears)')
    .option('--state <state>', 'lifecycle state: discovered, ready, provisioning, installed, provisioned, failed')
    .option('--netboot', forSet ? 'netboot on the next boot' : 'netboot on the next boot (the default)')
    .option('--no-netboot', 'boot from the local disk')
    .option('--install-disk <disk>', 'disk a disk image is installed onto: /dev/disk/by-…/…, /dev/sdX or a name (\'\' clears: the first large-enough disk)')
    .option('--network <mode>', 'installed OS network: static (from the inventory) or dhcp (\'\' clears: the image\'s choice)')
    .option('--cluster <name>', 'the Kubernetes cluster it is a node of (needs --role control-plane or worker; \'\' clears)')
}

export interface Program { command: Command; exitCode: () => number }

export function buildProgram (io: Io, hooks: RunHooks = {}): Program {
  let code = 0
  /** An action whose returned number (if any) is the exit code. */
  const exec = <A extends unknown[]> (fn: (...args: A) => Promise<number | undefined | void> | number | undefined | void) =>
    async (...args: A): Promise<void> => { const r = await fn(...args); if (typeof r === 'number') code = r }
  const program = new Command('rackboot')
  program
    .description('rackboot: DHCP, PXE/TFTP/iPXE netboot and an inventory API for bare-metal machines')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand('help [command]', 'show help for a command')
    .configureOutput({
      writeOut: s => io.out(s.replace(/\n$/, '')),
      writeErr: s => io.err(s.replace(/\n$/, '')),
      outputError: (s, write) => write(`rackboot: ${s.replace(/^error: /, '').replace(/\n$/, '')}`),
      // the same help everywhere (terminal or not): docs/cli.md is generated from it
      getOutHelpWidth: () => HELP_WIDTH,
      getErrHelpWidth: () => HELP_WIDTH,
      getOutHasColors: () => false,
      getErrHasColors: () => false
    })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText('after', '\nAPI client commands read the API URL from --api or RACKBOOT_API and the token from\n--token-file or RACKBOOT_TOKEN. Errors go to stderr as `rackboot: RB_CODE: message`;\nexit code 1 on an error, 2 on a usage error.')

  program.command('serve')
    .description('run the daemon in the foreground')
    .addOption(configOption())
    .action(exec(async (o: { config?: string }) => {
      if (hooks.serve === undefined) throw new UsageError('serve runs only from the rackboot command')
      return await hooks.serve(o)
    }))

  program.command('check-config')
    .description('validate a config file, and that this host has what it needs to boot machines; exit 1 listing every problem as file:line: key: message')
    .addOption(configOption())
    .option('--file-only', 'check the file alone, not this host (directories, iPXE binaries)')
    .action(exec(async (o: { config?: string; fileOnly?: boolean }) => act.checkConfig(io, o)))

  const token = program.command('token').description('API tokens (opens the database directly: works before the daemon runs)')
  token.command('create')
    .description('create an API token and print it (only its hash is stored)')
    .requiredOption('--name <name>', 'a name for the token')
    .option('--read-only', 'the token may only read')
    .addOption(configOption())
    .action(exec(async (o: { name: string; readOnly?: boolean; config?: string }) => act.tokenCreate(io, o)))
  token.command('list')
    .description('list API tokens: names, access, last use (never secrets)')
    .addOption(jsonOption())
    .addOption(configOption())
    .action(exec(async (o: { json?: boolean; config?: string }) => act.tokenList(io, o)))
  token.command('revoke')
    .description('revoke an API token')
    .argument('<name>', 'the token\'s name')
    .addOption(configOption())
    .action(exec(async (name: string, o: { config?: string }) => act.tokenRevoke(io, name, o)))

  const machines = program.command('machines').description('the machine inventory (through the API)')
  clientCommand(machines.command('list').alias('ls'))
    .description('list machines')
    .option('--lan <lan>', 'only this LAN')
    .option('--state <state>', 'only this lifecycle state')
    .option('--label <selector>', 'label selector: k=v, k!=v or k (repeat: all must match)', collect)
    .addOption(jsonOption())
    .action(exec(async (o: act.ListOptions) => act.machinesList(io, o)))
  clientCommand(machines.command('show'))
    .description('show one machine')
    .argument('<machine>', 'id, MAC or hostname')
    .addOption(jsonOption())
    .action(exec(async (ref: string, o: act.ClientOptions) => act.machinesShow(io, ref, o)))
  clientCommand(machineFields(machines.command('add'), false))
    .description('register a machine (needs --hostname, --mac and --lan)')
    .addOption(jsonOption())
    .action(exec(async (o: act.MachineOptions) => act.machinesAdd(io, o)))
  clientCommand(machineFields(machines.command('set'), true))
    .description('change a machine: only the given fields')
    .argument('<machine>', 'id, MAC or hostname')
    .addOption(jsonOption())
    .action(exec(async (ref: string, o: act.MachineOptions) => act.machinesSet(io, ref, o)))
  clientCommand(machines.command('rm').alias('delete'))
    .description('remove a machine (its events stay)')
    .argument('<machine>', 'id, MAC or hostname')
    .addOption(jsonOption())
    .action(exec(async (ref: string, o: act.ClientOptions) => act.machinesRm(io, ref, o)))
  clientCommand(machines.command('import'))
    .description('register machines in bulk from CSV or JSON: all or nothing')
    .argument('<file>', 'CSV (header row) or JSON file; - for stdin')
    .addOption(new Option('--format <format>', 'file format (default: by the file\'s extension)').choices(['csv', 'json']))
    .addOption(jsonOption())
    .action(exec(async (file: string, o: act.ImportOptions) => act.machinesImport(io, file, o)))
  clientCommand(machines.command('timeline'))
    .description('the last boot attempts, step by step')
    .argument('<machine>', 'id, MAC or hostname')
    .option('--limit <n>', 'how many attempts', '5')
    .addOption(jsonOption())
    .action(exec(async (ref: string, o: act.ClientOptions & { limit: string }) => act.machinesTimeline(io, ref, o)))
  clientCommand(machines.command('power'))
    .description('power a machine through its BMC, or read its power state: on, off (hard), cycle, reset, soft (ACPI shutdown), status')
    .addArgument(new Argument('<action>', 'what to do').choices(['on', 'off', 'cycle', 'reset', 'soft', 'status']))
    .argument('<machine>', 'id, MAC or hostname')
    .addOption(jsonOption())
    .action(exec(async (action: string, ref: string, o: act.ClientOptions) => act.machinesPower(io, action, ref, o)))
  clientCommand(machines.command('bootdev'))
    .description('set the next boot device through the BMC')
    .addArgument(new Argument('<device>', 'boot device').choices(['pxe', 'disk']))
    .argument('<machine>', 'id, MAC or hostname')
    .option('--once', 'only for the next boot (the default)')
    .option('--persistent', 'until changed')
    .addOption(new Option('--mode <mode>', 'firmware mode (default: UEFI when DHCP saw an EFI client, else BIOS)').choices(['bios', 'uefi']))
    .addOption(jsonOption())
    .action(exec(async (device: string, ref: string, o: act.ClientOptions & { once?: boolean; persistent?: boolean; mode?: string }) => act.machinesBootdev(io, device, ref, o)))
  for (const [name, what] of [['reprovision', 'netboot once more (state ready, netboot on)'], ['deprovision', 'stop provisioning: boot from the local disk (state ready, netboot off)']] as const) {
    clientCommand(machines.command(name))
      .description(what)
      .argument('<machine>', 'id, MAC or hostname')
      .option('--power', name === 'reprovision' ? 'also through the BMC: PXE for the next boot, then a power cycle (or on)' : 'also power it off through the BMC')
      .addOption(jsonOption())
      .action(exec(async (ref: string, o: act.ClientOptions & { power?: boolean }) => act.machinesLifecycle(io, name, ref, o)))
  }

  const images = program.command('images').description('netboot images')
  clientCommand(images.command('list').alias('ls'))
    .description('images the daemon serves, and whether each is servable (through the API)')
    .addOption(jsonOption())
    .action(exec(async (o: act.ClientOptions) => act.imagesList(io, o)))
  clientCommand(images.command('show'))
    .description('one image: files, sizes, SHA-256, problems (through the API)')
    .argument('<name>', 'image name')
    .addOption(jsonOption())
    .action(exec(async (name: string, o: act.ClientOptions) => act.imagesShow(io, name, o)))
  images.command('check')
    .description('verify every image offline (files, SHA-256, templates); exit 1 on a problem')
    .addOption(configOption())
    .addOption(jsonOption())
    .action(exec(async (o: { config?: string; json?: boolean }) => act.imagesCheck(io, o)))

  clientCommand(program.command('lans'))
    .description('configured LANs with pool usage, machines and leases')
    .addOption(jsonOption())
    .action(exec(async (o: act.ClientOptions) => act.lans(io, o)))
  clientCommand(program.command('leases'))
    .description('DHCP leases')
    .option('--lan <lan>', 'only this LAN')
    .option('--mac <mac>', 'only this MAC')
    .option('--state <state>', 'offered, bound, declined, released or expired')
    .addOption(jsonOption())
    .action(exec(async (o: act.LeaseOptions) => act.leases(io, o)))
  clientCommand(program.command('events'))
    .description('the event log, oldest of the shown first; --follow streams new events (reconnecting)')
    .option('--machine <id>', 'only this machine id')
    .option('--lan <lan>', 'only this LAN')
    .option('--type <type>', 'only this event type, e.g. lease.bound')
    .option('--limit <n>', 'how many past events to show (default 50, or 10 with --follow)')
    .option('-f, --follow', 'keep printing new events as they happen')
    .addOption(jsonOption())
    .action(exec(async (o: act.EventOptions) => act.events(io, o)))

  const pools = program.command('pools').description('IP pools for floating addresses: VIPs and load-balanced services (through the API)')
  clientCommand(pools.command('list').alias('ls'))
    .description('pools with their size and how much is allocated')
    .addOption(jsonOption())
    .action(exec(async (o: act.ClientOptions) => act.poolsList(io, o)))
  clientCommand(pools.command('show'))
    .description('one pool and its allocations')
    .argument('<pool>', 'pool name')
    .addOption(jsonOption())
    .action(exec(async (name: string, o: act.ClientOptions) => act.poolsShow(io, name, o)))
  clientCommand(pools.command('create'))
    .description('create a pool (exactly one of --cidr or --range)')
    .argument('<pool>', 'pool name (lower-case letters, digits, -)')
    .option('--cidr <cidr>', 'the pool as one CIDR, e.g. a routed public /27 (network and broadcast are never allocated)')
    .option('--range <first-last>', 'an address range of the pool (repeat for several)', collect)
    .option('--reserved <range>', 'an address or range never allocated (repeat)', collect)
    .option('--lan <lan>', 'the LAN the addresses are on')
    .addOption(new Option('--delivery <how>', 'how the addresses reach the nodes (default l2)').choices(['l2', 'bgp', 'routed']))
    .option('--description <text>', 'free text')
    .addOption(jsonOption())
    .action(exec(async (name: string, o: act.PoolCreateOptions) => act.poolsCreate(io, name, o)))
  clientCommand(pools.command('rm').alias('delete'))
    .description('delete a pool (with allocations only with --force: they are released)')
    .argument('<pool>', 'pool name')
    .option('--force', 'also when addresses are allocated')
    .action(exec(async (name: string, o: act.ClientOptions & { force?: boolean }) => act.poolsRm(io, name, o)))
  clientCommand(pools.command('allocate'))
    .description('allocate the next free address, a given one (--address) or an aligned block (--prefix)')
    .argument('<pool>', 'pool name')
    .option('--address <ip>', 'this address (the first of the block with --prefix)')
    .option('--prefix <n>', 'an aligned block: 29 for eight addresses (default 32: one)')
    .option('--cluster <name>', 'owned by this cluster (freed when it is deleted)')
    .option('--machine <machine>', 'owned by this machine (id, MAC or hostname)')
    .addOption(new Option('--purpose <purpose>', 'services: rendered into the cluster\'s MetalLB manifests; vip: a control-plane endpoint').choices(['services', 'vip']))
    .option('--comment <text>', 'what it is for')
    .addOption(jsonOption())
    .action(exec(async (name: string, o: act.AllocateOptions) => act.poolsAllocate(io, name, o)))
  clientCommand(pools.command('release'))
    .description('release an allocation (releasing one already gone succeeds)')
    .argument('<pool>', 'pool name')
    .argument('<id>', 'allocation id (pools show lists them)')
    .action(exec(async (name: string, id: string, o: act.ClientOptions) => act.poolsRelease(io, name, id, o)))

  const clusters = program.command('clusters').description('Kubernetes clusters rackboot bootstraps (through the API)')
  clientCommand(clusters.command('list').alias('ls'))
    .description('clusters with their endpoint, state and nodes')
    .addOption(jsonOption())
    .action(exec(async (o: act.ClientOptions) => act.clustersList(io, o)))
  clientCommand(clusters.command('show'))
    .description('one cluster: endpoint, state, CA hash, token ids, nodes and their kubeadm status')
    .argument('<cluster>', 'cluster name')
    .addOption(jsonOption())
    .action(exec(async (name: string, o: act.ClientOptions) => act.clustersShow(io, name, o)))
  clientCommand(clusters.command('create'))
    .description('create a cluster: its whole PKI and first bootstrap token now, its VIP from a pool')
    .argument('<cluster>', 'cluster name (lower-case letters, digits, -)')
    .requiredOption('--kubernetes <version>', 'Kubernetes version, v1.31 or later, e.g. v1.31.4')
    .option('--vip-pool <pool>', 'allocate the control-plane VIP from this IP pool (kube-vip holds it)')
    .option('--vip <ip>', 'with --vip-pool: this address of the pool')
    .option('--endpoint <host>', 'or: a given control-plane endpoint (a load balancer rackboot does not run)')
    .option('--port <port>', 'endpoint port (default 6443)')
    .option('--pod-cidr <cidr>', 'pod network (default 10.244.0.0/16)')
    .option('--service-cidr <cidr>', 'service network (default 10.96.0.0/12)')
    .option('--dns-domain <domain>', 'cluster DNS domain (default cluster.local)')
    .addOption(new Option('--key-algorithm <alg>', 'key type of the PKI (default ecdsa-p256)').choices(['ecdsa-p256', 'rsa-2048']))
    .option('--init-machine <machine>', 'the control plane that runs kubeadm init (default: the first registered)')
    .option('--apply-manifests', 'the init node applies the cluster\'s MetalLB manifests after kubeadm init (MetalLB must be installed)')
    .addOption(jsonOption())
    .action(exec(async (name: string, o: act.ClusterCreateOptions) => act.clustersCreate(io, name, o)))
  clientCommand(clusters.command('set'))
    .description('change the init machine (while pending) or the Kubernetes version')
    .argument('<cluster>', 'cluster name')
    .option('--init-machine <machine>', 'the control plane that runs kubeadm init (\'\' : the first one)')
    .option('--kubernetes <version>', 'Kubernetes version')
    .option('--apply-manifests', 'the init node applies the MetalLB manifests after kubeadm init')
    .option('--no-apply-manifests', 'it does not (the default)')
    .addOption(jsonOption())
    .action(exec(async (name: string, o: act.ClientOptions & { initMachine?: string; kubernetes?: string; applyManifests?: boolean }) => act.clustersSet(io, name, o)))
  clientCommand(clusters.command('rm').alias('delete'))
    .description('delete a cluster, its PKI and tokens; its pool allocations are freed (with nodes only with --force)')
    .argument('<cluster>', 'cluster name')
    .option('--force', 'also when machines are its nodes (they leave it)')
    .action(exec(async (name: string, o: act.ClientOptions & { force?: boolean }) => act.clustersRm(io, name, o)))
  clientCommand(clusters.command('kubeconfig'))
    .description('write an admin kubeconfig (a short-lived client certificate) with mode 0600; needs a read-write token')
    .argument('<cluster>', 'cluster name')
    .option('-o, --output <file>', 'where to write it (default <cluster>.kubeconfig; - prints it)')
    .action(exec(async (name: string, o: act.ClientOptions & { output?: string }) => act.clustersKubeconfig(io, name, o)))
  clientCommand(clusters.command('manifests'))
    .description('print the cluster\'s MetalLB manifests (IPAddressPool, L2Advertisement) for its service addresses')
    .argument('<cluster>', 'cluster name')
    .action(exec(async (name: string, o: act.ClientOptions) => act.clustersManifests(io, name, o)))
  return { command: program, exitCode: () => code }
}

/** Runs `argv` (without node and the script); returns the exit code. */
export async function run (argv: string[], io: Io, hooks: RunHooks = {}): Promise<number> {
  const { command, exitCode } = buildProgram(io, hooks)
  if (argv.length === 0) {
    command.outputHelp({ error: true })
    return 2
  }
  try {
    await command.parseAsync(argv, { from: 'user' })
    return exitCode()
  } catch (err) {
    return report(err, io)
  }
}

function report (err: unknown, io: Io): number {
  if (err instanceof CommanderError) {
    // help and version print and succeed; everything else commander refuses is a usage error
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0
    if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : 2
    return 2
  }
  if (err instanceof UsageError) { io.err(`rackboot: ${err.message}\n(add --help for usage)`); return 2 }
  if (err instanceof ConfigError) { io.err(err.message); return 1 }
  if (err instanceof RackbootError) { io.err(`rackboot: ${err.code}: ${err.message}`); return 1 }
  if (err instanceof ApiClientError) {
    const lines = [`rackboot: ${err.code}: ${err.message}`]
    for (const d of (err.details ?? []) as Array<{ message?: string }>) if (d.message !== undefined) lines.push(`  ${d.message}`)
    io.err(lines.join('\n'))
    return 1
  }
  io.err(`rackboot: ${(err as Error).stack ?? String(err)}`)
  return 1
}

