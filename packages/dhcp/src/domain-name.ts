import type { Codec } from '@rackboot/wire'
import { DhcpErrorCode } from './errors.js'
import { badValue, encodeFail, latin1Bytes, latin1Text } from './option-values.js'

/**
 * RFC 1035 §4.1.4 domain names with message compression, as option 119
 * (domain search, RFC 3397) uses them. Pointer offsets count from the start
 * of the (RFC 3396-concatenated) option value.
 *
 * Names are strings without the trailing dot (`example.com`); the root is ''.
 * A trailing dot on input is accepted and dropped.
 *
 * Decoding is hostile-input safe: every pointer must point strictly before
 * the position the current name started from (or the previous pointer's
 * target), so offsets strictly decrease and loops cannot happen; forward
 * pointers and self-pointers are invalid, as are names over 255 bytes,
 * labels with the reserved 0x40/0x80 prefixes and labels containing '.'.
 */

const MAX_NAME = 255
const MAX_LABEL = 63
const POINTER = 0xc0
const MAX_POINTER_TARGET = 0x3fff

function labelsOf (name: string, field: string): string[] {
  const n = name.endsWith('.') ? name.slice(0, -1) : name
  if (n === '') return []
  const labels = n.split('.')
  let wire = 1
  for (const l of labels) {
    if (l.length === 0 || l.length > MAX_LABEL) encodeFail(field, `${JSON.stringify(name)} has a label of ${l.length} bytes (1..63)`)
    latin1Bytes(l, field)
    wire += 1 + l.length
  }
  if (wire > MAX_NAME) encodeFail(field, `${JSON.stringify(name)} is ${wire} bytes on the wire (max 255)`)
  return labels
}

/** The compressed encoding of a list of names. Suffixes repeat as pointers to their first occurrence. */
export function encodeDomainList (names: readonly string[], field = 'value'): Uint8Array {
  const out: number[] = []
  const seen = new Map<string, number>()
  for (const name of names) {
    const labels = labelsOf(name, field)
    let pointed = false
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.')
      const at = seen.get(suffix)
      if (at !== undefined) {
        out.push(POINTER | (at >> 8), at & 0xff)
        pointed = true
        break
      }
      if (out.length <= MAX_POINTER_TARGET) seen.set(suffix, out.length)
      const label = labels[i] as string
      out.push(label.length)
      for (let j = 0; j < label.length; j++) out.push(label.charCodeAt(j))
    }
    if (!pointed) out.push(0)
  }
  return Uint8Array.from(out)
}

export type DomainListResult = { ok: true, names: string[] } | { ok: false, offset: number, reason: string }

/** Decode a compressed name list; never loops, never reads out of bounds. */
export function decodeDomainList (bytes: Uint8Array): DomainListResult {
  const names: string[] = []
  let pos = 0
  while (pos < bytes.length) {
    const labels: string[] = []
    let wire = 1
    let p = pos
    let limit = pos // pointers must point strictly below this
    let next = -1 // where the next name starts (after the first pointer or the terminator)
    for (;;) {
      const len = bytes[p]
      if (len === undefined) return { ok: false, offset: p, reason: 'name runs past the end of the option' }
      if (len === 0) {
        if (next < 0) next = p + 1
        break
      }
      if ((len & POINTER) === POINTER) {
        const low = bytes[p + 1]
        if (low === undefined) return { ok: false, offset: p, reason: 'truncated compression pointer' }
        const target = ((len & 0x3f) << 8) | low
        if (target >= limit) return { ok: false, offset: p, reason: `compression pointer to ${target} does not point backwards` }
        if (next < 0) next = p + 2
        limit = target
        p = target
        continue
      }
      if ((len & POINTER) !== 0) return { ok: false, offset: p, reason: `reserved label type 0x${len.toString(16)}` }
      if (p + 1 + len > bytes.length) return { ok: false, offset: p, reason: 'label runs past the end of the option' }
      wire += 1 + len
      if (wire > MAX_NAME) return { ok: false, offset: p, reason: 'name longer than 255 bytes' }
      const label = latin1Text(bytes.subarray(p + 1, p + 1 + len))
      if (label.includes('.')) return { ok: false, offset: p, reason: 'label contains a dot' }
      labels.push(label)
      p += 1 + len
    }
    names.push(labels.join('.'))
    pos = next
  }
  return { ok: true, names }
}

/** Option 119 value codec. An empty list encodes to nothing and is invalid to decode (RFC 3397 needs a name). */
export const domainListValue: Codec<string[]> = {
  encodingLength: v => encodeDomainList(v).length,
  encode (v, w) {
    if (v.length === 0) encodeFail('value', 'a domain search list needs at least one name')
    w.bytes(encodeDomainList(v), 'value')
  },
  decode (r) {
    const start = r.offset
    const bytes = r.rest('value')
    const result = decodeDomainList(bytes)
    if (!result.ok) {
      r.fail(DhcpErrorCode.BadValue, 'value', start + result.offset, `value at offset ${start + result.offset}: ${result.reason}`)
      return []
    }
    if (result.names.length === 0) badValue(r, 'empty domain list')
    return result.names
  }
}
