// /api/v1/machines: register, list, look up, change and remove machines; bulk import.
import Type from 'typebox'
import type { Api, ApiDeps } from '../app.js'
import { ErrorSchema, IdParams, Limit, MachineInputSchema, MachinePatchSchema, MachineSchema, MachineState, Page, type MachineInputBody } from '../schemas.js'
import { RackbootError } from '../../errors.js'
import { parseLabelSelector, type LabelSelector } from '../../store/machines.js'
import { parseImport } from '../import.js'
import { timeline, BOOT_EVENT_TYPES } from '../../boot/timeline.js'
import { EventSchema } from '../schemas.js'
import type { MachinePatch } from '../../store/index.js'
import { provisionAgain } from '../../lifecycle.js'
import { BmcService } from '../../bmc/service.js'
import { POWER_ACTIONS } from '../../bmc/driver.js'
import { isUefi } from '../../arch.js'

const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 422: ErrorSchema }

export const ListQuery = Type.Object({
  lan: Type.Optional(Type.String({ description: 'Only machines on this LAN.' })),
  state: Type.Optional(MachineState),
  label: Type.Optional(Type.Array(Type.String(), { description: 'Label selectors, ANDed: `key=value`, `key!=value` or `key` (present). Repeat the parameter for several.' })),
  mac: Type.Optional(Type.String({ description: 'The machine with this MAC (any notation): a page of 0 or 1.' })),
  hostname: Type.Optional(Type.String({ description: 'The machine with this hostname: a page of 0 or 1.' })),
  limit: Limit,
  after: Type.Optional(Type.String({ pattern: '^\\d+$', description: 'Cursor: the `next` of the previous page.' }))
}, { additionalProperties: false })

export async function machineRoutes (app: Api, { deps }: { deps: ApiDeps }): Promise<void> {
  const { store } = deps
  /** The machine a path names (id, MAC or hostname), or 404 saying how it was looked up. */
  const machineOr404 = (ref: string) => {
    const { machine, by } = store.machines.resolve(ref)
    if (machine !== null) return machine
    throw new RackbootError('RB_NOT_FOUND', by === 'id' ? `machine ${ref} does not exist` : `no machine with ${by} ${ref}`, 'params.id')
  }
  const actor = (req: { identity: { name: string } | null }) => `api:${req.identity?.name ?? '?'}`
  const bmc = deps.bmcService ?? new BmcService(store, deps.log)

  app.post('/machines', {
    schema: { tags: ['machines'], summary: 'Register a machine', body: MachineInputSchema, response: { 201: MachineSchema, ...errors } }
  }, async (req, reply) => {
    const m = store.write(() => store.machines.create(req.body, actor(req)))
    return reply.code(201).header('location', `/api/v1/machines/${m.id}`).send(m)
  })

  app.get('/machines', {
    schema: { tags: ['machines'], summary: 'List machines (filters, label selectors, cursor pagination); ?mac= looks one up by MAC', querystring: ListQuery, response: { 200: Page(MachineSchema), ...errors } }
  }, async (req) => {
    const q = req.query
    const labels: LabelSelector[] = (q.label ?? []).map((s, i) => {
      const sel = parseLabelSelector(s)
      if (sel === null) throw new RackbootError('RB_VALIDATION', `querystring.label[${i}] ${JSON.stringify(s)} is not a selector (key=value, key!=value or key)`, `querystring.label[${i}]`)
      return sel
    })
    const items = store.machines.list({
      ...(q.lan === undefined ? {} : { lan: q.lan }),
      ...(q.state === undefined ? {} : { state: q.state }),
      ...(q.mac === undefined ? {} : { mac: q.mac }),
      ...(q.hostname === undefined ? {} : { hostname: q.hostname }),
      labels,
      ...(q.after === undefined ? {} : { after: Number(q.after) }),
      limit: q.limit + 1
    })
    const more = items.length > q.limit
    if (more) items.length = q.limit
    return { items, next: more ? String(items[items.length - 1]?.id) : null }
  })

  app.get('/machines/:id', {
    schema: { tags: ['machines'], summary: 'Get a machine', params: IdParams, response: { 200: MachineSchema, ...errors } }
  }, async (req) => machineOr404(req.params.id))

  app.patch('/machines/:id', {
    schema: { tags: ['machines'], summary: 'Change a machine (only the fields given)', params: IdParams, body: MachinePatchSchema, response: { 200: MachineSchema, ...errors } }
  }, async (req) => store.write(() => store.machines.update(machineOr404(req.params.id).id, req.body as MachinePatch, actor(req))))

  app.delete('/machines/:id', {
    schema: { tags: ['machines'], summary: 'Remove a machine (its events stay)', params: IdParams, response: { 204: Type.Null(), ...errors } }
  }, async (req, reply) => {
    store.write(() => store.machines.delete(machineOr404(req.params.id).id, actor(req)))
    return reply.code(204).send(null)
  })

  // reprovision / deprovision; with `power`, rackboot also acts through the machine's BMC:
  // reprovision sets PXE for the next boot and power-cycles the machine (or powers it on when
  // it is off); deprovision powers it off. The inventory changes first: a BMC that fails
  // leaves the machine reprovisioned (its next boot netboots) and says why.
  // The body is optional (no schema, so that a bare POST works): `{}` or `{"power": true}`.
  const powerFlag = (body: unknown): boolean => {
    if (body === undefined || body === null || body === '') return false
    if (typeof body !== 'object' || Array.isArray(body)) throw new RackbootError('RB_VALIDATION', 'body must be an object: {} or {"power": true}', 'body')
    const extra = Object.keys(body).filter(k => k !== 'power')
    if (extra.length > 0) throw new RackbootError('RB_VALIDATION', `body.${extra[0] ?? ''} is not a known key; allowed: power`, `body.${extra[0] ?? ''}`)
    const power = (body as { power?: unknown }).power
    if (power !== undefined && typeof power !== 'boolean') throw new RackbootError('RB_VALIDATION', 'body.power must be true or false', 'body.power')
    return power === true
  }
  const action = (name: 'reprovision' | 'deprovision', summary: string) => app.post(`/machines/:id/${name}`, {
    schema: { tags: ['machines'], summary, params: IdParams, response: { 200: MachineSchema, 502: ErrorSchema, 503: ErrorSchema, 504: ErrorSchema, ...errors } }
  }, async (req) => {
    const machine = machineOr404(req.params.id)
    const who = actor(req)
    const asked = powerFlag(req.body)
    // Asked: the BMC must be set up (422 before anything changes). A LAN's provisionWithBmc: only machines that have a driver.
    const power = asked || (name === 'reprovision' && machine.bmc.driver !== null && deps.lans().get(machine.lan)?.config.provisionWithBmc === true)
    if (power) bmc.driverFor(machine)
    const updated = store.write(() => provisionAgain(store, machine, name, who))
    if (!power) return updated
    if (name === 'reprovision') {
      await bmc.bootDevice(updated, 'pxe', { once: true, mode: isUefi(updated.arch) ? 'uefi' : 'bios' }, who)
      const { state } = await bmc.status(updated, who)
      await bmc.power(updated, state === 'on' ? 'cycle' : 'on', who)
    } else {
      await bmc.power(updated, 'off', who)
    }
    return store.machines.get(updated.id) ?? updated
  })
  action('reprovision', 'Netboot once more: state ready, netboot on (the next power-on installs its image again); with {"power": true} also PXE once and a power cycle (or on) through the BMC')
  action('deprovision', 'Stop provisioning: state ready, netboot off (the machine boots from its disk); with {"power": true} also power off through the BMC')

  // The machine's BMC: power state and actions, the next boot device (one operation at a time per BMC).
  const PowerResult = Type.Object({ machine: Type.String(), state: Type.Union([Type.Enum(['on', 'off']), Type.Null()], { description: 'The power state (for on and off: the one asked for).' }), attempts: Type.Integer({ description: 'Tries it took (no answer and busy are retried).' }) })
  app.get('/machines/:id/power', {
    schema: { tags: ['machines'], summary: 'The live power state, asked of the machine\'s BMC (also recorded as its last known state)', params: IdParams, response: { 200: PowerResult, 502: ErrorSchema, 503: ErrorSchema, 504: ErrorSchema, ...errors } }
  }, async (req) => {
    const m = machineOr404(req.params.id)
    const r = await bmc.status(m, actor(req))
    return { machine: m.hostname, state: r.state, attempts: r.attempts }
  })
  app.post('/machines/:id/power', {
    schema: {
      tags: ['machines'],
      summary: 'Power the machine on, off (hard), cycle (off then on), reset (warm) or soft (an ACPI shutdown request) through its BMC',
      params: IdParams,
      body: Type.Object({ action: Type.Enum([...POWER_ACTIONS]) }, { additionalProperties: false }),
      response: { 200: PowerResult, 502: ErrorSchema, 503: ErrorSchema, 504: ErrorSchema, ...errors }
    }
  }, async (req) => {
    const m = machineOr404(req.params.id)
    const r = await bmc.power(m, req.body.action, actor(req))
    return { machine: m.hostname, state: req.body.action === 'on' || req.body.action === 'off' ? req.body.action : null, attempts: r.attempts }
  })
  app.put('/machines/:id/boot-device', {
    schema: {
      tags: ['machines'],
      summary: 'Set the next boot device through the BMC: pxe or disk, for the next boot only (default) or until changed',
      params: IdParams,
      body: Type.Object({
        device: Type.Enum(['pxe', 'disk']),
        once: Type.Optional(Type.Boolean({ description: 'Only the next boot (default true).' })),
        mode: Type.Optional(Type.Enum(['bios', 'uefi'], { description: 'Firmware mode of the override; default: from the architecture DHCP last saw (UEFI for EFI clients), else bios.' }))
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ machine: Type.String(), device: Type.String(), once: Type.Boolean(), mode: Type.String(), attempts: Type.Integer() }), 502: ErrorSchema, 503: ErrorSchema, 504: ErrorSchema, ...errors }
    }
  }, async (req) => {
    const m = machineOr404(req.params.id)
    const mode = req.body.mode ?? (isUefi(m.arch) ? 'uefi' : 'bios')
    const once = req.body.once ?? true
    const r = await bmc.bootDevice(m, req.body.device, { once, mode }, actor(req))
    return { machine: m.hostname, device: req.body.device, once, mode, attempts: r.attempts }
  })

  app.get('/machines/:id/timeline', {
    schema: {
      tags: ['machines'],
      summary: 'The last boot attempts, each as its steps: DHCP, TFTP, script, kernel and initrd, phone-home',
      params: IdParams,
      querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 50, default: 5 }) }, { additionalProperties: false }),
      response: {
        200: Type.Object({ machineId: Type.Integer(), attempts: Type.Array(Type.Object({ startedAt: Type.String(), endedAt: Type.String(), outcome: Type.String(), steps: Type.Array(EventSchema) })) }),
        ...errors
      }
    }
  }, async (req) => {
    const m = machineOr404(req.params.id)
    const events = store.events.list({ machineId: m.id, limit: 1000, order: 'desc' }).filter(e => (BOOT_EVENT_TYPES as readonly string[]).includes(e.type)).reverse()
    return { machineId: m.id, attempts: timeline(events, req.query.limit) }
  })

  // CSV arrives as text; JSON goes through Fastify's parser.
  app.addContentTypeParser(['text/csv', 'application/csv'], { parseAs: 'string' }, (_req, body, done) => { done(null, body) })

  app.post('/machines::import', {
    schema: {
      tags: ['machines'],
      summary: 'Bulk import: a JSON array of machines (or {"machines": [...]}) or CSV with a header row. All or nothing.',
      body: Type.Unsafe<unknown>({ description: 'JSON array of MachineInput, {"machines": [...]}, or text/csv' }),
      response: { 201: Type.Object({ created: Type.Integer(), machines: Type.Array(MachineSchema) }), ...errors }
    }
  }, async (req, reply) => {
    const rows = parseImport(req.body, req.headers['content-type'] ?? '')
    const who = actor(req)
    const created = store.write(() => {
      const out = []
      const problems: Array<{ row: number; line?: number; field?: string; code: string; message: string }> = []
      for (const r of rows) {
        const where = { row: r.row, ...(r.line === undefined ? {} : { line: r.line }) }
        const at = `row ${r.row}${r.line === undefined ? '' : ` (line ${r.line})`}`
        if (r.problems.length > 0) {
          for (const p of r.problems) problems.push({ ...where, field: p.field, code: 'RB_VALIDATION', message: `${at}: ${p.field} ${p.message}` })
          // the inventory's own checks too, for the fields the schema had no complaint about
          if (hasShape(r.input)) {
            const reported = new Set(r.problems.map(p => p.field.replace(/\[\d+\]$/, '')))
            for (const e of store.machines.problems(r.input)) {
              if (e.field !== undefined && !reported.has(e.field.replace(/\[\d+\]$/, ''))) problems.push({ ...where, field: e.field, code: e.code, message: `${at}: ${e.message}` })
            }
          }
          continue
        }
        try {
          out.push(store.machines.create(r.input as MachineInputBody, who))
        } catch (err) {
          if (!(err instanceof RackbootError)) throw err
          const each = (err.details as Array<{ field: string; code: string; message: string }> | undefined) ?? [{ field: err.field ?? '', code: err.code, message: err.message }]
          for (const e of each) problems.push({ ...where, ...(e.field === '' ? {} : { field: e.field }), code: e.code, message: `${at}: ${e.message}` })
        }
      }
      if (problems.length > 0) {
        throw new RackbootError('RB_IMPORT_INVALID', `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${new Set(problems.map(p => p.row)).size} of ${rows.length} rows; nothing was imported`, undefined, problems)
      }
      store.events.append({ actor: who, type: 'machines.imported', detail: { count: out.length } })
      return out
    })
    return reply.code(201).send({ created: created.length, machines: created })
  })
}

/** Enough of a machine for the inventory's checks: a hostname, a LAN and a list of MAC strings. */
function hasShape (v: unknown): v is MachineInputBody {
  const o = v as Record<string, unknown> | null
  return o !== null && typeof o === 'object' && typeof o.hostname === 'string' && typeof o.lan === 'string' && Array.isArray(o.macs) && o.macs.every(m => typeof m === 'string')
}
