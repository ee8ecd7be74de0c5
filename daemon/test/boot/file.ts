// Conditional requests and ranges for image files (src/boot/file.ts), as tables.
import t from 'tap'
import { notModified, parseRange } from '../../src/boot/file.js'

t.test('notModified: If-None-Match first, then If-Modified-Since at whole seconds', async t => {
  const mtimeMs = Date.parse('Tue, 01 Dec 2026 10:00:00 GMT') + 750 // sub-second part as a file system keeps it
  const file = { etag: '"abc"', mtimeMs }
  const now = Date.parse('Tue, 01 Dec 2026 12:00:00 GMT')
  const cases: Array<[string, string | undefined, string | undefined, boolean]> = [
    ['no condition', undefined, undefined, false],
    ['matching ETag', '"abc"', undefined, true],
    ['weak form of the ETag', 'W/"abc"', undefined, true],
    ['one of a list', '"x", "abc"', undefined, true],
    ['any', '*', undefined, true],
    ['another ETag wins over a matching date', '"x"', 'Tue, 01 Dec 2026 11:00:00 GMT', false],
    ['the Last-Modified second itself', undefined, 'Tue, 01 Dec 2026 10:00:00 GMT', true],
    ['later than the file', undefined, 'Tue, 01 Dec 2026 11:00:00 GMT', true],
    ['a second before the file', undefined, 'Tue, 01 Dec 2026 09:59:59 GMT', false],
    ['a date in the future is invalid', undefined, 'Wed, 02 Dec 2026 10:00:00 GMT', false],
    ['not a date', undefined, 'soon', false]
  ]
  for (const [name, inm, ims, want] of cases) t.equal(notModified(inm, ims, file, now), want, name)
})

t.test('parseRange', async t => {
  t.same(parseRange(undefined, 100), null)
  t.same(parseRange('bytes=0-9', 100), { start: 0, end: 9 })
  t.same(parseRange('bytes=90-', 100), { start: 90, end: 99 })
  t.same(parseRange('bytes=-10', 100), { start: 90, end: 99 })
  t.same(parseRange('bytes=0-1,5-6', 100), null, 'several ranges: the whole file')
  t.equal(parseRange('bytes=100-', 100), 'invalid')
  t.equal(parseRange('bytes=-', 100), 'invalid')
})
