import { formatIPv4, prefixToMask, type Codec, tryParseIPv4, parseCidr, formatCidr } from '@rackboot/wire'
import { badValue, encodeFail } from './option-values.js'

/**
 * Option 121, classless static routes (RFC 3442). Each route is a prefix
 * width, the significant octets of the destination (ceil(width / 8)), and the
 * router. `destination` is CIDR text (`10.0.0.0/8`, `0.0.0.0/0` for default).
 *
 * RFC 3442 §2: "a client that receives option 121 MUST ignore the Router
 * option (3)"; servers usually send the default route in both.
 */
export interface ClasslessRoute {
  destination: string
  router: string
}

function routeLength (r: ClasslessRoute): number {
  const slash = r.destination.lastIndexOf('/')
  const width = Number(r.destination.slice(slash + 1))
  return 1 + (Number.isInteger(width) && width >= 0 && width <= 32 ? Math.ceil(width / 8) : 0) + 4
}

export const classlessRoutesValue: Codec<ClasslessRoute[]> = {
  encodingLength: v => v.reduce((n, r) => n + routeLength(r), 0),
  encode (v, w) {
    if (v.length === 0) encodeFail('value', 'a classless route list needs at least one route')
    for (const route of v) {
      let cidr
      try {
        cidr = parseCidr(route.destination)
      } catch {
        encodeFail('value', `${JSON.stringify(route.destination)} is not a CIDR without host bits`)
      }
      if (tryParseIPv4(route.router) === null) encodeFail('value', `${JSON.stringify(route.router)} is not an IPv4 address`)
      w.u8(cidr.prefix, 'value')
      const significant = Math.ceil(cidr.prefix / 8)
      for (let i = 0; i < significant; i++) w.u8((cidr.network >>> (24 - 8 * i)) & 0xff, 'value')
      w.ipv4(route.router, 'value')
    }
  },
  decode (r) {
    const out: ClasslessRoute[] = []
    if (r.remaining === 0) badValue(r, 'empty route list')
    while (r.remaining > 0) {
      const width = r.u8('value')
      if (width > 32) {
        badValue(r, `prefix width ${width}`)
        return out
      }
      let network = 0
      const significant = Math.ceil(width / 8)
      for (let i = 0; i < 4; i++) network = network * 256 + (i < significant ? r.u8('value') : 0)
      const router = r.ipv4('value')
      if (!r.ok) return out
      if (((network & prefixToMask(width)) >>> 0) !== network) {
        badValue(r, `destination ${formatIPv4(network)}/${width} has host bits set`)
        return out
      }
      out.push({ destination: formatCidr({ network, prefix: width, mask: prefixToMask(width) }), router })
    }
    return out
  }
}
