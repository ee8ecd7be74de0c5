// The boot HTTP server: per-machine iPXE scripts, image files, iPXE binaries for UEFI HTTP
// boot, cloud-init seeds and phone-home. LAN-facing and unauthenticated by design: per-machine
// data is served only with that machine's one-time boot token. Its own Fastify instance and
// listener, separate from the inventory API.
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { type Stats } from 'node:fs'
import { realpath } from 'node:fs/promises'
import { resolveServedFile, TftpFileError } from '@rackboot/tftp'
import { servedRoots } from '../tftp/service.js'
import type { Logger } from 'pino'
import { Counter, Gauge } from 'prom-client'
import type { Store, Machine } from '../store/index.js'
import type { EventInput } from '../store/events.js'
import { gatewayList, type Lan } from '../config/lan.js'
import type { LoadedConfig } from '../config/load.js'
import type { Metrics } from '../metrics.js'
import { tryParseMac } from '@rackboot/wire'
import type { Image } from './images.js'
import { diskScript, installerArgs, localbootScript, netbootScript, unknownScript, waitScript } from './scripts.js'
import { render, type TemplateValues } from './template.js'
import { sendFile } from './file.js'
import { localBootFor, scriptFor, tokenRefusal, type TokenUse } from './decide.js'
import { INSTALL_FAILURES, INSTALL_STEPS, KUBEADM_OUTCOMES, clusterMaterialServed, installReported, kubeadmReported, netbootBegins, phonedHome, seedMinted, type InstallReport, type KubeadmReport } from '../lifecycle.js'
import { nodeMaterial, roleOf } from '../clusters/material.js'
import { clusterUserData } from '../clusters/user-data.js'
import { installFiles, installNetwork, tarOf } from './install-files.js'
import type { ServerResponse } from 'node:http'

export interface BootDeps {
  store: Store
  /** The running config (it changes on reload). */
  current: () => LoadedConfig
  images: () => ReadonlyMap<string, Image>
  log: Logger
  metrics: Metrics
}

/** Largest phone-home report accepted. */
const BODY_LIMIT = 64 * 1024

/**
 * Read size for disk-image streams: each active stream holds one chunk in flight, so four
 * installs at once hold a few MiB, not the image (kernels and initrds use larger reads).
 */
const DISK_CHUNK = 1 << 20

/** How long an installer refused for the LAN's stream limit waits before it asks again. */
export const STREAM_RETRY_SECONDS = 10

/** An installer's report (images/debian-node/installer/rackboot-install). */
const InstallReportSchema = {
  type: 'object',
  required: ['step'],
  properties: {
    step: { enum: [...INSTALL_STEPS] },
    reason: { enum: [...INSTALL_FAILURES] },
    message: { type: 'string', maxLength: 2048 },
    disk: { type: 'string', maxLength: 256 },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    size: { type: 'integer', minimum: 0 },
    bytes: { type: 'integer', minimum: 0 },
    total: { type: 'integer', minimum: 0 },
    offset: { type: 'integer', minimum: 0 },
    try: { type: 'integer', minimum: 0 },
    seconds: { type: 'number', minimum: 0 }
  },
  additionalProperties: false
} as const

const ACTOR = 'boot'

/** The boot server's base URL as the machine on `lan` reaches it (the request's Host for a LAN-less client). */
export function bootUrlFor (lan: Lan | undefined, current: LoadedConfig, host: string | undefined): string {
  const port = current.settings.boot.http.port
  if (lan !== undefined) return `http://${lan.config.address}:${port}`
  return `http://${host ?? `127.0.0.1:${port}`}`
}

export type BootServer = FastifyInstance<any, any, any, Logger>

/** The boot server's 4xx answers: a stable code and a sentence, from Fastify's own errors. */
export function bootClientError (err: FastifyError, bodyLimit: number): { code: string; message: string } {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return { code: 'RB_PAYLOAD_TOO_LARGE', message: `the request body is larger than ${bodyLimit} bytes` }
    case 'FST_ERR_CTP_INVALID_JSON_BODY': return { code: 'RB_BAD_REQUEST', message: 'the request body is not valid JSON (send text/plain for a free-form report)' }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY': return { code: 'RB_BAD_REQUEST', message: 'the request body is empty but content-type is application/json' }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return { code: 'RB_UNSUPPORTED_MEDIA_TYPE', message: 'unsupported content type' }
    default: return { code: 'RB_BAD_REQUEST', message: err.message }
  }
}

export async function buildBootServer (deps: BootDeps): Promise<BootServer> {
  const { store, log } = deps
  const app = Fastify({
    loggerInstance: log,
    // The query strings carry one-time tokens: no per-request log lines with URLs.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    bodyLimit: BODY_LIMIT
  })
  const registers = [deps.metrics.registry]
  /**
   * A boot step for the timeline, group-committed with the others of this loop turn, so that
   * one request's commit does not hold up every other request in a storm of boots.
   * Committed before the next request is read, so a client that asks for its timeline next sees it.
   */
  const record = (event: EventInput): void => {
    store.writeSoon(() => store.events.append(event)).catch((err: unknown) => { log.error({ err, type: event.type }, 'cannot record a boot event') })
  }
  const served = new Counter({ name: 'rackboot_boot_scripts_total', help: 'iPXE scripts served, by kind.', labelNames: ['kind'] as const, registers })
  const files = new Counter({ name: 'rackboot_boot_file_bytes_total', help: 'Bytes of image and iPXE files sent over HTTP.', labelNames: ['kind'] as const, registers })
  const rejected = new Counter({ name: 'rackboot_boot_token_rejected_total', help: 'Requests refused for a missing, wrong, used or expired boot token.', labelNames: ['code'] as const, registers })

  const clientErrors = new Counter({ name: 'rackboot_boot_client_errors_total', help: 'Boot server requests refused as malformed (4xx), by code.', labelNames: ['code'] as const, registers })
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode ?? 500
    if (status >= 400 && status < 500) {
      // Any LAN client can send these: a counter and a debug line, never an error-level flood.
      const { code, message } = bootClientError(err, BODY_LIMIT)
      clientErrors.inc({ code })
      req.log.debug({ reason: code, method: req.method, url: req.url.split('?')[0], ip: req.ip }, 'boot request refused')
      return reply.code(status).send({ code, message })
    }
    req.log.error({ err, req: { method: req.method, url: req.url.split('?')[0] } }, 'boot request failed')
    return reply.code(500).send({ code: 'RB_INTERNAL', message: 'internal error; see the daemon log' })
  })

  app.get('/boot/ipxe', async (req, reply) => {
    const q = req.query as { mac?: string }
    const mac = tryParseMac(q.mac ?? '')
    reply.type('text/plain; charset=utf-8')
    if (mac === null) { served.inc({ kind: 'bad-request' }); return reply.code(400).send(`#!ipxe\necho rackboot: /boot/ipxe needs ?mac=<the NIC's MAC>\nexit\n`) }
    const machine = store.machines.getByMac(mac)
    const decision = scriptFor(machine, deps.images())
    served.inc({ kind: decision.kind })
    if (decision.kind === 'unknown' || machine === null) return unknownScript(mac)
    const current = deps.current()
    const lan = current.lans.get(machine.lan)
    const bootUrl = bootUrlFor(lan, current, req.headers.host)
    const event = (kind: string, detail: Record<string, unknown> = {}) => ({ actor: ACTOR, type: 'boot.script', machineId: machine.id, lan: machine.lan, mac, detail: { kind, client: req.ip, ...detail } })
    switch (decision.kind) {
      case 'disk': {
        const local = localBootFor(machine, deps.images())
        record(event('disk', local === null ? {} : { via: local.file }))
        return local === null ? diskScript(machine.hostname, decision.why) : localbootScript(machine.hostname, decision.why, `${bootUrl}/images/${local.image}/${local.file}`)
      }
      case 'wait':
        if (decision.event !== null) record(event('image-unavailable', decision.event))
        return waitScript(bootUrl, mac, decision.why)
      case 'netboot': {
        const { image, begins } = decision
        const ttlMs = current.settings.boot.tokenTtlMs
        const disk = image.kind === 'disk' ? image.disk : null
        return await store.writeSoon(() => {
          const token = netbootBegins(store, machine, image.name, { begins, ttlMs, actor: ACTOR, kind: disk === null ? 'netboot' : 'install' })
          store.events.append(event(disk === null ? 'netboot' : 'install', { image: image.name }))
          const values = templateValues(machine, mac, lan, bootUrl, token, image.name)
          const args = disk === null ? '' : installerArgs(disk, { installUrl: `${bootUrl}/boot/install/${token}`, installDisk: machine.installDisk })
          return netbootScript(image, values, args)
        })
      }
    }
  })

  const serveImageFile = (kind: 'kernel' | 'initrd' | 'ipxe' | 'disk' | 'localboot') => (req: FastifyRequest, reply: FastifyReply, file: { path: string; size: number; etag: string; mtimeMs: number; name: string }, image: string | null, machine?: Machine) => {
    const bytes = sendFile(req, reply, file, kind === 'disk' ? DISK_CHUNK : undefined)
    files.inc({ kind }, bytes)
    const range = req.headers.range
    // A disk image's resumed ranges are steps too (kernel and initrd ranges are iPXE's own business).
    if (req.method === 'GET' && reply.statusCode !== 304 && (kind === 'disk' || range === undefined || /^bytes=0-/.test(range))) {
      // The machine: the token's (disk images), else the one whose lease the client holds.
      const holder = machine === undefined ? store.leases.holderOf(req.ip) : { machineId: machine.id, lan: machine.lan, mac: null }
      record({ actor: ACTOR, type: 'boot.file', machineId: holder?.machineId ?? null, lan: holder?.lan ?? null, mac: holder?.mac ?? null, detail: { kind, image, file: file.name, client: req.ip, bytes, ...(range === undefined ? {} : { range }) } })
    }
    return reply
  }

  app.get('/images/:image/:file', async (req, reply) => {
    const { image: name, file: fileName } = req.params as { image: string; file: string }
    const image = deps.images().get(name)
    if (image === undefined || !image.ok) return reply.code(404).send({ code: 'RB_NOT_FOUND', message: `image ${name} is ${image === undefined ? 'unknown' : 'not servable'}` })
    const file = [image.kernel, ...image.initrds, image.localboot].find(f => f !== null && f.name === fileName)
    if (file === undefined || file === null) return reply.code(404).send({ code: 'RB_NOT_FOUND', message: `image ${name} has no file ${fileName}` })
    return serveImageFile(file === image.kernel ? 'kernel' : file === image.localboot ? 'localboot' : 'initrd')(req, reply, file, name)
  })

  // iPXE binaries for UEFI HTTP-boot clients: plain names from the TFTP roots only.
  app.get('/ipxe/:file', async (req, reply) => {
    const { file } = req.params as { file: string }
    const boot = deps.current().config.boot
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(file)) return reply.code(404).send({ code: 'RB_NOT_FOUND', message: 'no such file' })
    // The TFTP service's roots and rules (servedRoots, resolveServedFile): both protocols serve the same files.
    for (const { dir, linkedFiles } of servedRoots(boot)) {
      let base: string
      try {
        base = await realpath(dir)
      } catch {
        continue // a root that does not exist holds no files
      }
      let found: { real: string, st: Stats }
      try {
        found = await resolveServedFile(base, file, [file], linkedFiles)
      } catch (err) {
        if (err instanceof TftpFileError && err.code === 'RB_TFTP_FILE_NOT_FOUND') continue
        log.warn({ file, dir, reason: err instanceof Error ? err.message : String(err) }, 'iPXE binary refused')
        break
      }
      const { real, st } = found
      return serveImageFile('ipxe')(req, reply, { path: real, size: st.size, etag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`, mtimeMs: st.mtimeMs, name: file }, null)
    }
    return reply.code(404).send({ code: 'RB_NOT_FOUND', message: `no iPXE binary ${file}` })
  })

  /** Token check shared by every per-machine route: 403 with the reason, nothing changed. */
  const tokenOr403 = (token: string, reply: FastifyReply, use: TokenUse) => {
    const check = store.bootTokens.check(token, store.now())
    if (check.ok) {
      const refused = tokenRefusal(check, use)
      if (refused === null) return check
      rejected.inc({ code: refused.code })
      log.warn({ reason: refused.code, machineId: check.machineId, use, detail: refused.message }, 'boot token refused')
      void reply.code(403).send(refused)
      return null
    }
    rejected.inc({ code: check.code })
    log.warn({ reason: check.code, machineId: check.machineId }, 'boot token refused')
    const why = { RB_BOOT_TOKEN_INVALID: 'the boot token is not valid', RB_BOOT_TOKEN_USED: 'the boot token was already used', RB_BOOT_TOKEN_EXPIRED: 'the boot token has expired' }[check.code]
    void reply.code(403).send({ code: check.code, message: why })
    return null
  }

  app.get('/boot/metadata/:token/:file', async (req, reply) => {
    const { token, file } = req.params as { token: string; file: string }
    if (!['meta-data', 'user-data', 'vendor-data'].includes(file)) return reply.code(404).send({ code: 'RB_NOT_FOUND', message: `no ${file} here (meta-data, user-data, vendor-data)` })
    const check = tokenOr403(token, reply, 'metadata')
    if (check === null) return reply
    const machine = store.machines.get(check.machineId)
    const image = deps.images().get(check.image)
    if (machine === null) return reply.code(404).send({ code: 'RB_NOT_FOUND', message: 'machine gone' })
    const current = deps.current()
    const lan = current.lans.get(machine.lan)
    const bootUrl = bootUrlFor(lan, current, req.headers.host)
    const values = templateValues(machine, machine.macs[0] ?? '', lan, bootUrl, token, check.image)
    reply.type('text/plain; charset=utf-8')
    record({ actor: ACTOR, type: 'boot.metadata', machineId: machine.id, lan: machine.lan, mac: null, detail: { file } })
    if (file === 'meta-data') return image?.metaData != null ? render(image.metaData, values) : `instance-id: rackboot-${machine.id}-${check.createdAt}\nlocal-hostname: ${machine.hostname}\n`
    if (file === 'user-data') {
      if (image?.userData != null) return render(image.userData, values)
      if (check.kind !== 'seed') return '#cloud-config\n{}\n'
      if (machine.cluster === null) return installedUserData(machine, lan, values)
      return await clusterSeed(machine, lan, values, bootUrl, token, req.ip)
    }
    return ''
  })

  /**
   * A cluster node's seed: its role's kubeadm material, made now (a late joiner's bootstrap
   * certificate is signed here) and recorded by path and SHA-256.
   */
  const clusterSeed = async (machine: Machine, lan: Lan | undefined, values: TemplateValues, bootUrl: string, token: string, client: string): Promise<string> => {
    const cluster = machine.cluster === null ? null : store.clusters.get(machine.cluster, { nodes: false })
    if (cluster === null) return installedUserData(machine, lan, values)
    const current = deps.current()
    const s = current.settings.clusters
    const material = await nodeMaterial(store, cluster, machine, {
      reportUrl: `${bootUrl}/boot/kubeadm/${token}`,
      kubeVipImage: current.config.clusters.kubeVipImage,
      joinMarginMs: s.joinMarginMs,
      bootstrapCertTtlMs: s.bootstrapCertTtlMs,
      bootstrapTokenTtlMs: s.bootstrapTokenTtlMs,
      now: store.now()
    })
    // Group-committed with the other seeds of this moment (a rack installing at once), and committed before the answer.
    await store.writeSoon(() => {
      clusterMaterialServed(store, machine, cluster, { role: material.role, credential: material.credential, tokenId: material.tokenId, files: material.issued }, ACTOR)
    })
    log.info({ machineId: machine.id, cluster: cluster.name, role: material.role, client }, 'cluster material served')
    const domain = lan?.config.domain
    return clusterUserData({ hostname: machine.hostname, fqdn: domain === undefined ? null : `${machine.hostname}.${domain}`, phoneHomeUrl: values.phone_home_url, files: material.files })
  }

  app.post('/boot/kubeadm/:token', async (req, reply) => {
    const { token } = req.params as { token: string }
    const check = tokenOr403(token, reply, 'kubeadm')
    if (check === null) return reply
    const report = parseKubeadmReport(req.body)
    if (typeof report === 'string') return reply.code(400).send({ code: 'RB_BAD_REQUEST', message: report })
    const machine = store.machines.get(check.machineId)
    const cluster = machine?.cluster == null ? null : store.clusters.get(machine.cluster, { nodes: false })
    if (machine === null || cluster === null) return reply.code(403).send({ code: 'RB_BOOT_TOKEN_STALE', message: 'the machine is not a node of a cluster' })
    const role = roleOf(cluster, machine)
    store.write(() => kubeadmReported(store, machine, role, report, ACTOR))
    log.info({ machineId: machine.id, cluster: cluster.name, role, outcome: report.outcome, step: report.step }, 'kubeadm report')
    return { ok: true }
  })

  app.post('/boot/phone-home', async (req, reply) => {
    const token = (req.query as { token?: string }).token ?? ''
    const check = tokenOr403(token, reply, 'phone-home')
    if (check === null) return reply
    const report = typeof req.body === 'string' ? req.body.slice(0, 1024) : req.body
    const result = store.write(() => phonedHome(store, token, { machineId: check.machineId, image: check.image, client: req.ip, report, actor: ACTOR }))
    if (result === null) {
      rejected.inc({ code: 'RB_BOOT_TOKEN_USED' })
      return reply.code(403).send({ code: 'RB_BOOT_TOKEN_USED', message: 'the boot token was already used' })
    }
    log.info({ machineId: result.id, hostname: result.hostname, state: result.state }, 'phone-home')
    return { status: result.state, hostname: result.hostname }
  })

  // The installer (a machine whose image is a disk image): its reports, its disk image and its
  // per-machine files, each only with its install token while it is provisioning.
  app.post('/boot/install/:token', { schema: { body: InstallReportSchema } }, async (req, reply) => {
    const { token } = req.params as { token: string }
    const check = tokenOr403(token, reply, 'install')
    if (check === null) return reply
    const report = req.body as InstallReport
    const result = store.write(() => installReported(store, token, { machineId: check.machineId, image: check.image, client: req.ip, report, actor: ACTOR }))
    if (result === null) {
      rejected.inc({ code: 'RB_BOOT_TOKEN_USED' })
      return reply.code(403).send({ code: 'RB_BOOT_TOKEN_USED', message: 'the boot token was already used' })
    }
    if (report.step !== 'progress') log.info({ machineId: result.id, hostname: result.hostname, step: report.step, reason: report.reason, state: result.state }, 'install step')
    return { state: result.state }
  })

  /** Disk-image streams per LAN, against the LAN's installStreams. */
  const streams = new Map<string, Set<ServerResponse>>()
  const streamsGauge = new Gauge({ name: 'rackboot_boot_disk_streams', help: 'Disk-image downloads in progress, by LAN.', labelNames: ['lan'] as const, registers })
  const streamsRefused = new Counter({ name: 'rackboot_boot_disk_streams_refused_total', help: 'Disk-image downloads told to wait their turn (the LAN\'s installStreams were all in use), by LAN.', labelNames: ['lan'] as const, registers })
  app.get('/boot/install/:token/image', async (req, reply) => {
    const { token } = req.params as { token: string }
    const check = tokenOr403(token, reply, 'install')
    if (check === null) return reply
    const machine = store.machines.get(check.machineId)
    const image = deps.images().get(check.image)
    if (machine === null) return reply.code(404).send({ code: 'RB_NOT_FOUND', message: 'machine gone' })
    if (image?.ok !== true || image.disk === null) return reply.code(404).send({ code: 'RB_NOT_FOUND', message: `image ${check.image} is ${image === undefined ? 'not installed' : 'not servable'} any more` })
    const lan = deps.current().lans.get(machine.lan)
    const limit = lan?.config.installStreams ?? 8
    const active = streams.get(machine.lan) ?? new Set<ServerResponse>()
    streams.set(machine.lan, active)
    if (active.size >= limit) {
      streamsRefused.inc({ lan: machine.lan })
      return reply.code(503).header('retry-after', String(STREAM_RETRY_SECONDS)).send({ code: 'RB_BUSY', message: `${active.size} installs are downloading on LAN ${machine.lan} (installStreams ${limit}): wait your turn` })
    }
    const res = reply.raw
    active.add(res)
    streamsGauge.set({ lan: machine.lan }, active.size)
    res.once('close', () => { active.delete(res); streamsGauge.set({ lan: machine.lan }, active.size) })
    return serveImageFile('disk')(req, reply, image.disk, image.name, machine)
  })
  // A stopping daemon cuts its disk streams (the installers resume with Range) rather than
  // waiting for gigabytes to finish.
  app.addHook('preClose', async () => { for (const set of streams.values()) for (const res of set) res.destroy() })

  app.get('/boot/install/:token/files', async (req, reply) => {
    const { token } = req.params as { token: string }
    const check = tokenOr403(token, reply, 'install')
    if (check === null) return reply
    const machine = store.machines.get(check.machineId)
    if (machine === null) return reply.code(404).send({ code: 'RB_NOT_FOUND', message: 'machine gone' })
    const image = deps.images().get(check.image)
    const current = deps.current()
    const lan = current.lans.get(machine.lan)
    const bootUrl = bootUrlFor(lan, current, req.headers.host)
    const network = installNetwork(machine, image?.network ?? 'static', lan)
    // The boot NIC: the one whose lease the installer's request comes from, else the first.
    const holder = store.leases.holderOf(req.ip)
    const mac = holder !== null && machine.macs.includes(holder.mac) ? holder.mac : machine.macs[0] ?? ''
    const seed = store.write(() => seedMinted(store, machine, check.image, { ttlMs: current.settings.boot.tokenTtlMs, actor: ACTOR, client: req.ip, network: network.mode, networkWhy: network.why }))
    const tar = await tarOf(installFiles(machine, { lan, mac, network, seedUrl: `${bootUrl}/boot/metadata/${seed}/` }), new Date(store.now()))
    return reply.type('application/x-tar').header('cache-control', 'no-store').send(tar)
  })

  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => { done(null, body) })
  return app
}

/**
 * The installed OS's cloud-init user-data when its image has no template: the hostname from
 * the inventory, and phone-home (cloud-init's phone_home module, in its final stage) that makes
 * the machine provisioned.
 */
export function installedUserData (m: Machine, lan: Lan | undefined, values: TemplateValues): string {
  const domain = lan?.config.domain
  return [
    '#cloud-config',
    `hostname: ${m.hostname}`,
    ...(domain === undefined ? [] : [`fqdn: ${m.hostname}.${domain}`]),
    'preserve_hostname: false',
    'phone_home:',
    `  url: "${values.phone_home_url}"`,
    '  post: [instance_id, hostname, fqdn]',
    '  tries: 10',
    ''
  ].join('\n')
}

export function templateValues (m: Machine, mac: string, lan: Lan | undefined, bootUrl: string, token: string, image: string): TemplateValues {
  const ip = m.ipv4 ?? ''
  return {
    hostname: m.hostname,
    mac,
    ip,
    lan: m.lan,
    gateway: lan === undefined ? '' : gatewayList(lan.config)[0] ?? '',
    dns: (lan?.config.dns ?? []).join(','),
    machine_id: String(m.id),
    boot_url: bootUrl,
    phone_home_url: `${bootUrl}/boot/phone-home?token=${token}`,
    metadata_url: `${bootUrl}/boot/metadata/${token}/`,
    image,
    role: m.role ?? '',
    labels: m.labels
  }
}

/** A runner's report, checked field by field; a string says what is wrong. */
export function parseKubeadmReport (body: unknown): KubeadmReport | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the report must be a JSON object'
  const b = body as Record<string, unknown>
  if (!(KUBEADM_OUTCOMES as readonly unknown[]).includes(b.outcome)) return `outcome must be one of ${KUBEADM_OUTCOMES.join(', ')}`
  if (typeof b.step !== 'string' || b.step.length > 500) return 'step must be a string of at most 500 characters'
  if (b.output !== undefined && (typeof b.output !== 'string' || b.output.length > 8000)) return 'output must be a string of at most 8000 characters'
  let files: KubeadmReport['files']
  if (b.files !== undefined) {
    if (!Array.isArray(b.files) || b.files.length > 64) return 'files must be a list of at most 64 {path, sha256}'
    files = []
    for (const f of b.files as unknown[]) {
      const o = f as Record<string, unknown> | null
      if (o === null || typeof o !== 'object' || typeof o.path !== 'string' || o.path.length > 256 || !(o.sha256 === null || (typeof o.sha256 === 'string' && /^[0-9a-f]{64}$/.test(o.sha256)))) return 'each file is {path, sha256} with a hex SHA-256 (or null when missing)'
      files.push({ path: o.path, sha256: o.sha256 as string | null })
    }
  }
  return { outcome: b.outcome as KubeadmReport['outcome'], step: b.step, ...(b.output === undefined ? {} : { output: b.output as string }), ...(files === undefined ? {} : { files }) }
}
