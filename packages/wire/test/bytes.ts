import t from 'tap'
import { copyBytes } from '../src/bytes.js'

t.test('copyBytes copies (Buffer input too) and returns a plain Uint8Array', async t => {
  const b = Buffer.from([1, 2, 3, 4])
  const all = copyBytes(b)
  const part = copyBytes(b, 1, 3)
  b.fill(0)
  t.same([...all], [1, 2, 3, 4])
  t.same([...part], [2, 3])
  t.equal(Object.getPrototypeOf(part), Uint8Array.prototype)
  t.same([...copyBytes(Uint8Array.of(5), 1)], [])
})
