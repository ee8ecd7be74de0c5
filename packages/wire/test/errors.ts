import t from 'tap'
import { DecodeError, EncodeError, isDecodeError, isEncodeError, WireErrorCode } from '../src/errors.js'

t.test('error classes carry stable codes', async t => {
  const d = new DecodeError(WireErrorCode.Truncated, 'xid', 4)
  t.ok(d instanceof Error)
  t.equal(d.name, 'DecodeError')
  t.equal(d.message, 'xid at offset 4: RB_WIRE_TRUNCATED')
  t.ok(isDecodeError(d))
  t.notOk(isDecodeError(new Error('x')))
  const e = new EncodeError(WireErrorCode.Overflow, 'packet', 'too big')
  t.equal(e.name, 'EncodeError')
  t.equal(e.message, 'too big')
  t.equal(e.field, 'packet')
  t.ok(isEncodeError(e))
  t.notOk(isEncodeError(d))
  t.equal(new EncodeError('RB_X', 'f').message, 'f: RB_X')
  for (const code of Object.values(WireErrorCode)) t.match(code, /^RB_WIRE_[A-Z0-9_]+$/)
})
