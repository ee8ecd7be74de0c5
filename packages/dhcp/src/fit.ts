import { EncodeError, isEncodeError } from '@rackboot/wire'
import { DhcpErrorCode } from './errors.js'
import { Option } from './option-table.js'
import { optionLength, type Options } from './options.js'
import { encode, encodeOverloaded, FILE_LENGTH, HEADER_LENGTH, SNAME_LENGTH, type DhcpPacket } from './packet.js'

export interface FitOptions {
  /** Largest acceptable message in bytes (the UDP payload): `maxReplySize(request)`. */
  maxSize: number
  /**
   * Options the reply must carry: if they do not fit, nothing is sent (`RB_DHCP_TOO_LARGE`).
   * Option 82 (relay agent information) is always kept, last, in the options field.
   */
  required: ReadonlySet<number>
}

export interface Fitted {
  buf: Buffer
  /** Codes left out because they did not fit, in the reply's order. */
  dropped: number[]
  /** The option 52 value used: 0 none, 1 `file`, 2 `sname`, 3 both. */
  overload: 0 | 1 | 2 | 3
}

interface Area { options: Options; room: number }

/**
 * Encode `packet` within `maxSize`, never refusing it for what it merely asked for: the
 * required options first, then the rest in the reply's order (the client's order of
 * preference, RFC 2132 §9.8), each in the first area with room — the options field, then
 * `file`, then `sname` (RFC 2132 §9.3; RFC 3396 §7's order), when those carry no text —
 * and what still does not fit left out and reported. An option is never split across areas.
 */
export function encodeFitted (packet: DhcpPacket, opts: FitOptions): Fitted {
  // The common case, as plain encode() sizes it once; fitting only when it does not fit.
  try {
    return { buf: encode(packet, { maxSize: opts.maxSize }), dropped: [], overload: 0 }
  } catch (err) {
    if (!isEncodeError(err) || err.code !== DhcpErrorCode.TooLarge) throw err
  }

  const relay = packet.options.get(Option.RelayAgentInformation)
  const order = [
    ...[...packet.options.keys()].filter(c => opts.required.has(c) && c !== Option.RelayAgentInformation),
    ...[...packet.options.keys()].filter(c => !opts.required.has(c) && c !== Option.RelayAgentInformation)
  ]
  const attempt = (withOverload: boolean): { main: Area; file: Area | null; sname: Area | null; dropped: number[] } | null => {
    // The options field: up to maxSize, less the header, End, option 52 (3 bytes) and option 82.
    const mainRoom = opts.maxSize - HEADER_LENGTH - 1 - (withOverload ? 3 : 0) - (relay === undefined ? 0 : optionLength(relay))
    const main: Area = { options: new Map(), room: mainRoom }
    const file: Area | null = withOverload && packet.file === '' ? { options: new Map(), room: FILE_LENGTH - 1 } : null
    const sname: Area | null = withOverload && packet.sname === '' ? { options: new Map(), room: SNAME_LENGTH - 1 } : null
    const dropped: number[] = []
    for (const code of order) {
      const value = packet.options.get(code) as Uint8Array
      const need = optionLength(value)
      const area = [main, file, sname].find(a => a !== null && a.room >= need)
      if (area === undefined || area === null) {
        if (opts.required.has(code)) return null
        dropped.push(code)
        continue
      }
      area.options.set(code, value)
      area.room -= need
    }
    if (mainRoom < 0) return null
    return { main, file, sname, dropped }
  }
  const plain = attempt(false)
  let laid = plain
  if (plain === null || plain.dropped.length > 0) {
    const over = packet.file === '' || packet.sname === '' ? attempt(true) : null
    if (over !== null && (plain === null || over.dropped.length < plain.dropped.length)) laid = over
  }
  if (laid === null) {
    throw new EncodeError(DhcpErrorCode.TooLarge, 'packet',
      `the options the reply must carry need more than the ${opts.maxSize} bytes the peer accepts`)
  }
  if (relay !== undefined) laid.main.options.set(Option.RelayAgentInformation, relay)
  const file = laid.file !== null && laid.file.options.size > 0 ? laid.file.options : undefined
  const sname = laid.sname !== null && laid.sname.options.size > 0 ? laid.sname.options : undefined
  const out = { ...packet, options: laid.main.options }
  const buf = encodeOverloaded(out, { ...(file === undefined ? {} : { file }), ...(sname === undefined ? {} : { sname }) })
  return { buf, dropped: laid.dropped, overload: ((file === undefined ? 0 : 1) | (sname === undefined ? 0 : 2)) as Fitted['overload'] }
}
