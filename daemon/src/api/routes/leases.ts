// /api/v1/leases: DHCP leases as recorded by the DHCP service.
import Type from 'typebox'
import type { Api, ApiDeps } from '../app.js'
import { ErrorSchema, LeaseSchema, Limit, Page } from '../schemas.js'
import { tryParseMac } from '@rackboot/wire'
import { RackbootError } from '../../errors.js'

const Query = Type.Object({
  lan: Type.Optional(Type.String()),
  mac: Type.Optional(Type.String({ description: 'Any MAC notation.' })),
  state: Type.Optional(Type.Enum(['offered', 'bound', 'declined', 'released', 'expired'])),
  limit: Limit,
  after: Type.Optional(Type.String({ description: 'Cursor: the `next` of the previous page.' }))
}, { additionalProperties: false })

export async function leaseRoutes (app: Api, { deps }: { deps: ApiDeps }): Promise<void> {
  app.get('/leases', {
    schema: { tags: ['leases'], summary: 'DHCP leases (filters, cursor pagination)', querystring: Query, response: { 200: Page(LeaseSchema), 400: ErrorSchema, 401: ErrorSchema } }
  }, async (req) => {
    const q = req.query
    let mac: string | undefined
    if (q.mac !== undefined) {
      const m = tryParseMac(q.mac)
      if (m === null) throw new RackbootError('RB_VALIDATION', `querystring.mac ${JSON.stringify(q.mac)} is not a MAC address`, 'querystring.mac')
      mac = m
    }
    if (q.after !== undefined && !q.after.includes('/')) throw new RackbootError('RB_VALIDATION', 'querystring.after must be a cursor returned as `next`', 'querystring.after')
    const items = deps.store.leases.list({
      ...(q.lan === undefined ? {} : { lan: q.lan }),
      ...(mac === undefined ? {} : { mac }),
      ...(q.state === undefined ? {} : { state: q.state }),
      ...(q.after === undefined ? {} : { after: q.after }),
      limit: q.limit + 1
    })
    const more = items.length > q.limit
    if (more) items.length = q.limit
    const last = items[items.length - 1]
    return { items, next: more && last !== undefined ? `${last.lan}/${last.ipv4}` : null }
  })
}
