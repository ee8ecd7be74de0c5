import t, { type Test } from 'tap'
import { TftpDecodeError, TftpEncodeError } from '../src/errors.js'
import {
  ackBlock, decode, encode, encodeInto, encodingLength, getOption, Opcode, utf8ToWireName, wireNameToUtf8,
  type TftpPacket
} from '../src/packet.js'

/** Seeded xorshift in [0, 1), so failures are reproducible. */
function xorshift (seed: number): () => number {
  return () => {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5
    return (seed >>> 0) / 0x100000000
  }
}

/** Up to `maxLen` random bytes, a share `zeros` of them 0; with probability `valid`, a valid opcode first. */
function randomPacket (rand: () => number, maxLen: number, zeros: number, valid: number): Buffer {
  const len = Math.floor(rand() * maxLen)
  const buf = Buffer.alloc(len)
  for (let j = 0; j < len; j++) buf[j] = rand() < zeros ? 0 : Math.floor(rand() * 256)
  if (len >= 2 && rand() < valid) { buf[0] = 0; buf[1] = 1 + Math.floor(rand() * 6) }
  return buf
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

/** dns-packet style round trip: decode(encode(v)) equals v, length, offset encoding, re-encoding bytes. */
function roundTrip (t: Test, name: string, packet: TftpPacket, wire?: Buffer): void {
  t.test(name, async (t) => {
    const buf = encode(packet)
    t.equal(buf.length, encodingLength(packet), 'encodingLength matches')
    if (wire !== undefined) t.same(buf, wire, 'exact bytes')
    const decoded = decode(buf)
    t.same(decoded, packet, 'decode(encode(v)) equals v')
    t.same(encode(decoded), buf, 're-encoding gives the same bytes')
    const big = Buffer.alloc(buf.length + 10, 0xee)
    t.equal(encodeInto(packet, big, 7), 7 + buf.length, 'returns the end offset')
    t.same(big.subarray(7, 7 + buf.length), buf, 'encodes at a non-zero offset')
    t.equal(big[6], 0xee, 'leaves bytes before alone')
    t.equal(big[7 + buf.length], 0xee, 'leaves bytes after alone')
  })
}

t.test('round trips', async (t) => {
  roundTrip(t, 'RRQ without options', { opcode: Opcode.RRQ, filename: 'undionly.kpxe', mode: 'octet', options: [] },
    Buffer.concat([hex('0001'), Buffer.from('undionly.kpxe\0octet\0')]))
  roundTrip(t, 'RRQ with options, order and spelling kept', {
    opcode: Opcode.RRQ,
    filename: '/ipxe.efi',
    mode: 'OCTET',
    options: [{ name: 'TSize', value: '0' }, { name: 'blksize', value: '1468' }, { name: 'windowsize', value: '16' }]
  }, Buffer.concat([hex('0001'), Buffer.from('/ipxe.efi\0OCTET\0TSize\x000\0blksize\x001468\0windowsize\x0016\0')]))
  roundTrip(t, 'WRQ', { opcode: Opcode.WRQ, filename: 'upload', mode: 'netascii', options: [] })
  roundTrip(t, 'RRQ with non-ASCII bytes (latin1 keeps them exact)', {
    opcode: Opcode.RRQ, filename: utf8ToWireName('bööt/ü.efi'), mode: 'octet', options: []
  })
  roundTrip(t, 'DATA', { opcode: Opcode.DATA, block: 0xffff, data: Buffer.from([1, 2, 3]) }, hex('0003 ffff 010203'))
  roundTrip(t, 'DATA empty (final block of a multiple-of-blksize file)', { opcode: Opcode.DATA, block: 0, data: Buffer.alloc(0) }, hex('0003 0000'))
  roundTrip(t, 'ACK', { opcode: Opcode.ACK, block: 513 }, hex('0004 0201'))
  roundTrip(t, 'ERROR', { opcode: Opcode.ERROR, errorCode: 8, message: 'tsize only' },
    Buffer.concat([hex('0005 0008'), Buffer.from('tsize only\0')]))
  roundTrip(t, 'ERROR with empty message', { opcode: Opcode.ERROR, errorCode: 0, message: '' }, hex('0005 0000 00'))
  roundTrip(t, 'OACK', { opcode: Opcode.OACK, options: [{ name: 'tsize', value: '1024' }] },
    Buffer.concat([hex('0006'), Buffer.from('tsize\x001024\0')]))
  roundTrip(t, 'OACK empty', { opcode: Opcode.OACK, options: [] }, hex('0006'))
})

t.test('lenient decoding where real clients are sloppy', async (t) => {
  t.same(decode(Buffer.concat([hex('0001'), Buffer.from('f\0octet\0tsize\x000\0\0\0\0')])),
    { opcode: Opcode.RRQ, filename: 'f', mode: 'octet', options: [{ name: 'tsize', value: '0' }] },
    'NUL padding after the options is ignored')
  t.same(decode(hex('0004 0001 0000')), { opcode: Opcode.ACK, block: 1 }, 'trailing bytes after an ACK are ignored')
  t.same(decode(Buffer.concat([hex('0005 0001'), Buffer.from('no nul')])),
    { opcode: Opcode.ERROR, errorCode: 1, message: 'no nul' }, 'ERROR message without NUL')
  t.same(decode(hex('0005 0002')), { opcode: Opcode.ERROR, errorCode: 2, message: '' }, 'ERROR without message')
})

t.test('malformed packets throw TftpDecodeError with exact codes', async (t) => {
  const cases: Array<[string, Buffer, string, string, number]> = [
    ['empty', hex(''), 'RB_TFTP_TRUNCATED', 'opcode', 0],
    ['one byte', hex('00'), 'RB_TFTP_TRUNCATED', 'opcode', 0],
    ['opcode 0', hex('0000'), 'RB_TFTP_BAD_OPCODE', 'opcode', 0],
    ['opcode 7', hex('0007 0000'), 'RB_TFTP_BAD_OPCODE', 'opcode', 0],
    ['opcode 0x0100 (byte order)', hex('0100'), 'RB_TFTP_BAD_OPCODE', 'opcode', 0],
    ['RRQ with nothing', hex('0001'), 'RB_TFTP_UNTERMINATED_STRING', 'filename', 2],
    ['RRQ filename without NUL', Buffer.concat([hex('0001'), Buffer.from('file')]), 'RB_TFTP_UNTERMINATED_STRING', 'filename', 2],
    ['RRQ without mode', Buffer.concat([hex('0001'), Buffer.from('file\0')]), 'RB_TFTP_UNTERMINATED_STRING', 'mode', 7],
    ['RRQ mode without NUL', Buffer.concat([hex('0001'), Buffer.from('file\0oct')]), 'RB_TFTP_UNTERMINATED_STRING', 'mode', 7],
    ['RRQ option without value', Buffer.concat([hex('0001'), Buffer.from('f\0octet\0tsize\0')]), 'RB_TFTP_BAD_OPTIONS', 'option tsize', 16],
    ['RRQ option name without NUL', Buffer.concat([hex('0001'), Buffer.from('f\0octet\0tsi')]), 'RB_TFTP_UNTERMINATED_STRING', 'option name', 10],
    ['RRQ option value without NUL', Buffer.concat([hex('0001'), Buffer.from('f\0octet\0tsize\x000')]), 'RB_TFTP_UNTERMINATED_STRING', 'option tsize', 16],
    ['RRQ empty option name before data', Buffer.concat([hex('0001'), Buffer.from('f\0octet\0\0x\0')]), 'RB_TFTP_BAD_OPTIONS', 'option name', 10],
    ['WRQ truncated', hex('0002 41'), 'RB_TFTP_UNTERMINATED_STRING', 'filename', 2],
    ['DATA without block', hex('0003'), 'RB_TFTP_TRUNCATED', 'block', 2],
    ['DATA with one block byte', hex('0003 00'), 'RB_TFTP_TRUNCATED', 'block', 2],
    ['ACK without block', hex('0004'), 'RB_TFTP_TRUNCATED', 'block', 2],
    ['ACK with one block byte', hex('0004 01'), 'RB_TFTP_TRUNCATED', 'block', 2],
    ['ERROR without code', hex('0005 00'), 'RB_TFTP_TRUNCATED', 'errorCode', 2],
    ['OACK option without value', Buffer.concat([hex('0006'), Buffer.from('blksize\0')]), 'RB_TFTP_BAD_OPTIONS', 'option blksize', 10]
  ]
  for (const [name, buf, code, field, offset] of cases) {
    t.test(name, async (t) => {
      const err = (() => { try { decode(buf); return undefined } catch (e) { return e } })()
      t.type(err, TftpDecodeError)
      t.match(err, { code, field, offset })
    })
  }
})

t.test('decoding arbitrary bytes returns a packet or throws TftpDecodeError, nothing else', async (t) => {
  const rand = xorshift(0x2545f491)
  let thrown = 0
  for (let i = 0; i < 20000; i++) {
    const buf = randomPacket(rand, 40, 0.3, 0.8)
    try {
      decode(buf)
    } catch (err) {
      thrown++
      if (!(err instanceof TftpDecodeError)) {
        t.fail(`non-TftpDecodeError for ${buf.toString('hex')}: ${String(err)}`)
        return
      }
    }
  }
  t.ok(thrown > 0, `${thrown} of 20000 random packets rejected, all with TftpDecodeError`)
})

t.test('ackBlock agrees with decode on every packet, at any offset', async (t) => {
  const rand = xorshift(0x1234567)
  let acks = 0
  for (let i = 0; i < 5000; i++) {
    const buf = randomPacket(rand, 12, 0, 0.7)
    const len = buf.length
    let want = -1
    try {
      const p = decode(buf)
      if (p.opcode === Opcode.ACK) want = p.block
    } catch { /* not a packet: not an ACK either */ }
    const at = Math.floor(rand() * 5)
    const framed = Buffer.concat([Buffer.alloc(at, 0), buf, Buffer.from([0, 4, 9, 9])])
    if (ackBlock(framed, at, len) !== want) {
      t.fail(`ackBlock(${buf.toString('hex')}) = ${ackBlock(framed, at, len)}, decode says ${want}`)
      return
    }
    if (want >= 0) acks++
  }
  t.ok(acks > 100, `${acks} ACKs among 5000 packets, all read alike`)
  t.equal(ackBlock(hex('0004 ffff'), 0, 4), 65535)
  t.equal(ackBlock(hex('0004 00'), 0, 3), -1, 'a truncated ACK is left to decode (which rejects it)')
})

t.test('encode refuses values that cannot be put on the wire', async (t) => {
  t.throws(() => encode({ opcode: Opcode.RRQ, filename: 'a\0b', mode: 'octet', options: [] }),
    { code: 'RB_TFTP_BAD_STRING', field: 'filename' })
  t.throws(() => encode({ opcode: Opcode.OACK, options: [{ name: 'tsize', value: '1\0' }] }),
    { code: 'RB_TFTP_BAD_STRING', field: 'option tsize' })
  t.throws(() => encode({ opcode: Opcode.ERROR, errorCode: 0, message: 'snow ☃' }),
    { code: 'RB_TFTP_BAD_STRING', field: 'message' })
  t.throws(() => encode({ opcode: Opcode.DATA, block: 65536, data: Buffer.alloc(0) }), { code: 'RB_TFTP_BAD_BLOCK' })
  t.throws(() => encode({ opcode: Opcode.ACK, block: -1 }), { code: 'RB_TFTP_BAD_BLOCK' })
  t.throws(() => encode({ opcode: Opcode.ERROR, errorCode: 1.5, message: '' }), { code: 'RB_TFTP_BAD_ERROR_CODE' })
  const err = (() => { try { encode({ opcode: Opcode.ACK, block: 70000 }) } catch (e) { return e } })()
  t.type(err, TftpEncodeError)
  t.throws(() => encodeInto({ opcode: Opcode.ACK, block: 1 }, Buffer.alloc(3)), RangeError, 'buffer too small is a caller bug')
})

t.test('getOption is case-insensitive and returns the first occurrence', async (t) => {
  const options = [{ name: 'BLKSIZE', value: '1024' }, { name: 'blksize', value: '8' }]
  t.equal(getOption(options, 'blksize'), '1024')
  t.equal(getOption(options, 'tsize'), undefined)
})

t.test('wire names and UTF-8', async (t) => {
  t.equal(wireNameToUtf8(utf8ToWireName('grub/ärm64.efi')), 'grub/ärm64.efi')
  t.equal(wireNameToUtf8('\xff\xfe'), undefined, 'invalid UTF-8 is reported')
})
