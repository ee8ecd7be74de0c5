import { EncodeError, copyBytes, type Reader, type Writer } from '@rackboot/wire'
import { DhcpErrorCode } from './errors.js'
import { Option, optionName } from './option-table.js'

/**
 * The options area: a map from option code to its raw value bytes.
 *
 * Decoding slices each option by its *declared* length first (never trusting
 * a type's idea of how long a value is: node-dhcp's desync bug), honours Pad
 * and End, and concatenates repeated codes (RFC 3396 long options). Values are
 * kept raw; typed accessors parse them lazily. Unknown codes round-trip raw.
 *
 * Encoding writes options in map order and splits values longer than 255
 * bytes into consecutive instances of the same code (RFC 3396 §4).
 */
export type Options = Map<number, Uint8Array>

export const MAX_OPTION_CHUNK = 255

/** Collects the parts of each option across areas, joined at the end (no quadratic concatenation). */
export class OptionCollector {
  readonly #parts = new Map<number, Uint8Array[]>()

  add (code: number, value: Uint8Array): void {
    const parts = this.#parts.get(code)
    if (parts === undefined) this.#parts.set(code, [value])
    else parts.push(value)
  }

  get (code: number): Uint8Array | undefined {
    const parts = this.#parts.get(code)
    return parts === undefined ? undefined : join(parts)
  }

  delete (code: number): void {
    this.#parts.delete(code)
  }

  toMap (): Options {
    const out: Options = new Map()
    for (const [code, parts] of this.#parts) out.set(code, join(parts))
    return out
  }
}

function join (parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return copyBytes(parts[0] as Uint8Array)
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/**
 * Read one options area (the options field, or an overloaded `file`/`sname`
 * field) up to End. `area` prefixes error fields: `options.message-type`.
 * Failures are recorded on the reader (sticky); the caller checks once.
 */
export function decodeOptionsArea (r: Reader, into: OptionCollector, area: string): void {
  while (r.ok) {
    if (r.remaining === 0) {
      r.fail(DhcpErrorCode.MissingEnd, area, r.offset, `${area} at offset ${r.offset}: no End option (255)`)
      return
    }
    const at = r.offset
    const code = r.u8(area)
    if (code === Option.Pad) continue
    if (code === Option.End) return
    const field = `${area}.${optionName(code)}`
    const length = r.u8(field)
    if (!r.ok) return
    if (length > r.remaining) {
      r.fail(DhcpErrorCode.OptionOverrun, field, at,
        `${field} at offset ${at}: declares ${length} bytes, ${r.remaining} left in ${area}`)
      return
    }
    into.add(code, r.view(length, field))
  }
}

/** Bytes one option (or sub-option) value takes on the wire: code and length per 255-byte chunk. */
export function optionLength (value: Uint8Array): number {
  return value.length === 0 ? 2 : value.length + 2 * Math.ceil(value.length / MAX_OPTION_CHUNK)
}

/** Bytes the options take on the wire, End not included. */
export function optionsLength (options: Options): number {
  let n = 0
  for (const value of options.values()) n += optionLength(value)
  return n
}

/** Throws `EncodeError` for codes the codec owns (Pad, End, Overload) or that are not bytes. */
export function checkOptionCode (code: number): void {
  if (!Number.isInteger(code) || code < 0 || code > 255) {
    throw new EncodeError(DhcpErrorCode.ReservedOption, `options.${code}`, `option code ${code} is not 1..254`)
  }
  if (code === Option.Pad || code === Option.End || code === Option.Overload) {
    throw new EncodeError(DhcpErrorCode.ReservedOption, `options.${optionName(code)}`,
      `option ${code} (${optionName(code)}) is framing, written by the codec, not option data`)
  }
}

/** Write the options (no End). */
export function encodeOptions (options: Options, w: Writer): void {
  for (const [code, value] of options) {
    checkOptionCode(code)
    const field = `options.${optionName(code)}`
    if (value.length === 0) {
      w.u8(code, field)
      w.u8(0, field)
      continue
    }
    for (let at = 0; at < value.length; at += MAX_OPTION_CHUNK) {
      const chunk = value.subarray(at, Math.min(at + MAX_OPTION_CHUNK, value.length))
      w.u8(code, field)
      w.u8(chunk.length, field)
      w.bytes(chunk, field)
    }
  }
}
