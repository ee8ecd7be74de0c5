// The TFTP test bed: the real daemon in a server namespace, clients in a client namespace,
// one veth between them (10.201.n.0/24), files in a temp directory. Used by test/tftp/*.ts.
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { serve, tempDir, type Running } from './daemon.js'
import { createNetns, netnsUnavailable, requireOrSkip, veth, type Link, type Netns, type RunResult } from '../../bench/netns.js'

interface Tap { teardown (fn: () => unknown): void; fail (msg: string): unknown; comment (...msg: unknown[]): unknown }

export const CLIENT_SCRIPT = fileURLToPath(new URL('./tftp-client.mjs', import.meta.url))

export interface TftpEnv {
  dir: string
  server: Netns
  client: Netns
  link: Link
  /** The daemon's TFTP address (the server end of the veth). */
  host: string
  daemon: Running
  /** The daemon's config file and its text as written (tests rewrite it, then SIGHUP). */
  configFile: string
  configText: string
  /** sha256 of each served file, by the name a client asks for. */
  sha: Record<string, string>
  size: Record<string, number>
  /** The secret outside the served roots that hostile paths try to reach. */
  secret: string
  /** Runs the scripted client (tftp-client.mjs) in the client namespace. */
  script: (input: Record<string, unknown>, timeoutMs?: number) => Promise<ClientResult>
  /** The daemon's log lines for transfers of `file` (complete, failed, probe). */
  transfers: (file?: string) => Array<Record<string, any>>
}

export interface ClientResult { ok: boolean; bytes: number; sha256: string; dataPackets: number; duplicates: number; oack: Record<string, string> | null; error: { code: number; message: string } | null; ms: number; acksSent: number; stray: { opcode: number; errorCode?: number; message?: string } | null }

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** The SHA-256 of a downloaded file, or 'missing'. */
export async function fileSha (path: string): Promise<string> {
  if (!existsSync(path)) return 'missing'
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** Peers needed by every TFTP integration test: root, ip, and the four clients. */
export const TFTP_PEERS = ['tftp', 'atftp', 'curl', 'busybox']

export interface EnvOptions {
  /** Extra files for the root: name → size in bytes (random content). */
  files?: Record<string, number>
  /** YAML for `boot.tftpLimits` (flow mapping), e.g. `{ maxTransfersPerClient: 100 }`. */
  limits?: string
  /** Link MTU (default 1500). */
  mtu?: number
}

/** Null when the bed cannot be set up on this machine (test then returns after requireOrSkip). */
export function tftpEnvUnavailable (): string | null {
  return netnsUnavailable([...TFTP_PEERS, 'python3', 'iptables'])
}

export async function tftpEnv (t: Tap, opts: EnvOptions = {}): Promise<TftpEnv | null> {
  if (!requireOrSkip(t, tftpEnvUnavailable())) return null
  const dir = tempDir(t)
  const ipxe = join(dir, 'ipxe')
  const root = join(dir, 'root')
  for (const d of [ipxe, root, join(root, 'sub'), join(dir, 'out')]) mkdirSync(d, { recursive: true })
  const sha: Record<string, string> = {}
  const size: Record<string, number> = {}
  const put = (path: string, name: string, bytes: number): void => {
    const data = randomBytes(bytes)
    writeFileSync(path, data)
    sha[name] = sha256(data)
    size[name] = bytes
  }
  // iPXE binaries (boot.ipxeDir) and the extra root (boot.tftpRoot), whose files win.
  put(join(ipxe, 'undionly.kpxe'), 'ipxe:undionly.kpxe', 70_000)
  // As Debian ships it: /usr/lib/ipxe/ipxe.efi -> /boot/ipxe.efi (a link out of ipxeDir, served).
  mkdirSync(join(dir, 'boot'))
  put(join(dir, 'boot', 'ipxe.efi'), 'ipxe.efi', 1_000_000)
  symlinkSync(join(dir, 'boot', 'ipxe.efi'), join(ipxe, 'ipxe.efi'))
  put(join(root, 'undionly.kpxe'), 'undionly.kpxe', 71_000)
  put(join(root, 'small.bin'), 'small.bin', 3000)
  put(join(root, 'sub', 'nested.bin'), 'sub/nested.bin', 5000)
  for (const [name, bytes] of Object.entries(opts.files ?? {})) put(join(root, name), name, bytes)
  const secret = `secret-${randomBytes(8).toString('hex')}\n`
  writeFileSync(join(dir, 'secret.txt'), secret)
  symlinkSync(join(dir, 'secret.txt'), join(root, 'escape'))
  symlinkSync('small.bin', join(root, 'inside-link'))

  const server = await createNetns(t, 'tftpsrv')
  const client = await createNetns(t, 'tftpcli')
  const link = await veth(server, client, { mtu: opts.mtu ?? 1500 })
  const host = link.a.ip
  const config = join(dir, 'rackboot.yaml')
  const configText = [
    `dataDir: ${join(dir, 'var')}`,
    'log: { level: debug, format: json }',
    'api: { listen: "127.0.0.1:9080" }',
    'boot:',
    `  tftp: "${host}:69"`,
    `  ipxeDir: ${ipxe}`,
    `  tftpRoot: ${root}`,
    `  tftpLimits: ${opts.limits ?? '{ deadline: 10s }'}`,
    'lans:',
    '  - name: test',
    `    interface: ${link.a.ifname}`,
    `    subnet: ${host.replace(/\.1$/, '.0')}/24`,
    `    address: ${host}`,
    ''
  ].join('\n')
  writeFileSync(config, configText)
  const daemon = await serve(t, config, 9080, { netns: server })
  await daemon.waitLog(l => l.msg === 'TFTP listening')
  const isTransfer = (l: Record<string, any>): boolean => l.svc === 'tftp' && typeof l.outcome === 'string'
  return {
    dir,
    server,
    client,
    link,
    host,
    daemon,
    configFile: config,
    configText,
    sha,
    size,
    secret,
    async script (input, timeoutMs = 60_000) {
      const r: RunResult = await client.run(process.execPath, [CLIENT_SCRIPT, JSON.stringify({ host, port: 69, ...input })], { timeoutMs })
      if (r.code !== 0) throw new Error(`tftp-client.mjs exited ${String(r.code)}: ${r.stderr}`)
      return JSON.parse(r.stdout) as ClientResult
    },
    transfers (file) {
      return daemon.logs().filter(l => isTransfer(l) && (file === undefined || l.file === file))
    }
  }
}
