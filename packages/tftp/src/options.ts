/**
 * RRQ option negotiation: blksize (RFC 2348), tsize and timeout (RFC 2349),
 * windowsize (RFC 7440). Pure: request options and limits in, the values to
 * use and the OACK options out.
 *
 * RFC 2347: "Option names and values are case-insensitive"; options the server
 * does not support are omitted from the OACK; when no option is accepted the
 * server answers as RFC 1350 (DATA 1), never with an empty OACK.
 */
import { DEFAULT_BLKSIZE, MAX_BLKSIZE, type TftpOption } from './packet.js'

export interface NegotiationLimits {
  /** Largest blksize granted (clamp). Default 1468: a 1500-byte MTU minus IPv4, UDP and TFTP headers. */
  maxBlksize: number
  /** Largest windowsize granted (clamp). 1 disables windowing. Default 64. */
  maxWindowsize: number
}

export const defaultNegotiationLimits: NegotiationLimits = { maxBlksize: 1468, maxWindowsize: 64 }

/** Largest blksize whose DATA packet fits an IPv4 link MTU without fragmentation. */
export function blksizeForMtu (mtu: number): number {
  return Math.max(8, Math.min(MAX_BLKSIZE, Math.floor(mtu) - 20 - 8 - 4))
}

export interface Negotiated {
  blksize: number
  windowsize: number
  /** Retransmission timeout the client asked for, in seconds, or undefined. */
  timeout: number | undefined
  /** Options to put in the OACK, in request order and with the client's spelling. Empty: no OACK. */
  oack: TftpOption[]
}

/** Parse a decimal option value; undefined unless it is all digits (no sign, no spaces). */
function parseDecimal (value: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(value)) return undefined
  return Number(value)
}

/**
 * Negotiate the options of a read request for a file of `size` bytes.
 * Unknown options, repeats of an option and invalid values are ignored
 * (left out of the OACK), as RFC 2347 allows.
 */
export function negotiate (options: readonly TftpOption[], size: number, limits: NegotiationLimits): Negotiated {
  const maxBlksize = Math.max(8, Math.min(MAX_BLKSIZE, limits.maxBlksize))
  const maxWindowsize = Math.max(1, Math.min(65535, limits.maxWindowsize))
  const result: Negotiated = { blksize: DEFAULT_BLKSIZE, windowsize: 1, timeout: undefined, oack: [] }
  const seen = new Set<string>()
  for (const { name, value } of options) {
    const key = name.toLowerCase()
    if (seen.has(key)) continue
    seen.add(key)
    const n = parseDecimal(value)
    if (n === undefined) continue
    switch (key) {
      case 'blksize': {
        // RFC 2348: valid values are 8..65464; a larger request is answered
        // with a smaller value, which the client must accept.
        if (n < 8) break
        result.blksize = Math.min(n, maxBlksize)
        result.oack.push({ name, value: String(result.blksize) })
        break
      }
      case 'tsize': {
        // RFC 2349: the client sends 0 in an RRQ and the server answers the size.
        // A non-zero value in an RRQ is meaningless; it is answered the same way.
        result.oack.push({ name, value: String(size) })
        break
      }
      case 'timeout': {
        // RFC 2349: 1..255 seconds; the server must accept the value or ignore the option.
        if (n < 1 || n > 255) break
        result.timeout = n
        result.oack.push({ name, value: String(n) })
        break
      }
      case 'windowsize': {
        // RFC 7440: 1..65535; the server may answer a smaller value.
        if (n < 1 || n > 65535) break
        result.windowsize = Math.min(n, maxWindowsize)
        result.oack.push({ name, value: String(result.windowsize) })
        break
      }
      default:
        break
    }
  }
  return result
}
