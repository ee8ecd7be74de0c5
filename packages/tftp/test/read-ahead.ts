// ReadAhead: two buffers at most, the next read ahead past half of the current one, a file
// already in memory sent without reads, and a failing or shrinking source surfacing as such.
import t from 'tap'
import type { OpenFile } from '../src/file-source.js'
import { ReadAhead } from '../src/read-ahead.js'

function file (size: number, opts: { inMemory?: boolean, fail?: boolean, shrinkTo?: number } = {}) {
  const bytes = Uint8Array.from({ length: size }, (_, i) => i & 0xff)
  const reads: Array<[number, number]> = []
  const f: OpenFile = {
    size,
    ...(opts.inMemory === true ? { bytes } : {}),
    async read (offset, length) {
      reads.push([offset, length])
      if (opts.fail === true) throw new Error('disk gone')
      const end = Math.min(offset + length, opts.shrinkTo ?? size)
      return bytes.slice(offset, Math.max(offset, end))
    },
    async close () {}
  }
  return { f, reads, bytes }
}

t.test('reads chunk by chunk, the next one ahead of need', async t => {
  const { f, reads, bytes } = file(10_000)
  const ra = new ReadAhead(f, { chunkBytes: () => 4000 })
  t.notOk(ra.covered(0, 512), 'nothing read yet')
  t.same(await ra.read(0, 512), bytes.subarray(0, 512))
  t.same(reads, [[0, 4000]])
  t.ok(ra.covered(512, 512))
  t.same(reads.length, 1, 'below half of the buffer: no read ahead yet')
  t.ok(ra.covered(1536, 512), 'past half')
  t.same(reads, [[0, 4000], [4000, 4000]], 'the next chunk is being read ahead')
  await new Promise(resolve => setImmediate(resolve))
  t.ok(ra.covered(4000, 512), 'the read ahead became the buffer without a promise hop')
  t.equal(ra.base, 4000)
  t.same(ra.cached(4000, 10), bytes.subarray(4000, 4010))
  t.notOk(ra.covered(3990, 20, false), 'a range across two buffers is not covered')
  t.same(await ra.read(9000, 1000), bytes.subarray(9000, 10_000))
  t.ok(reads.every(([o, l]) => o + l <= 10_000), 'never beyond the end of the file')
  await ra.release()
  t.equal(ra.body.length, 0, 'released: no buffer held')
})

t.test('a file its source holds in memory is never read', async t => {
  const { f, reads, bytes } = file(3000, { inMemory: true })
  const ra = new ReadAhead(f, { chunkBytes: () => 512 })
  t.ok(ra.covered(2000, 1000))
  t.same(await ra.read(0, 3000), bytes)
  t.same(reads, [])
})

t.test('a failing source throws; a shrunk file reads short', async t => {
  const failing = new ReadAhead(file(5000, { fail: true }).f, { chunkBytes: () => 1000 })
  await t.rejects(failing.read(0, 512), /disk gone/)
  const shrunk = new ReadAhead(file(5000, { shrinkTo: 700 }).f, { chunkBytes: () => 1000 })
  t.equal((await shrunk.read(512, 512)).length, 188, 'fewer bytes than asked: the caller aborts')
  t.same(await new ReadAhead(file(0).f, { chunkBytes: () => 512 }).read(0, 0), new Uint8Array(0), 'an empty range needs no read')
})
