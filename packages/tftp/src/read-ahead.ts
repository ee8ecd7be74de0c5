/**
 * A transfer's view of its file: at most two buffers, the one being sent and the next, read
 * ahead of need so a transfer never waits for the disk. A file its source already holds in
 * memory (`OpenFile.bytes`) is one buffer for the whole transfer, and nothing is read.
 *
 * The hot path only asks `covered()` (a view costs a typed array) and reads through `body` /
 * `base`; `cached()` gives a view, `read()` waits for the source when the bytes are not here.
 */
import type { OpenFile } from './file-source.js'

const EMPTY = new Uint8Array(0)

interface Pending { offset: number, length: number, data: Promise<Uint8Array | undefined>, ready?: Uint8Array }

export class ReadAhead {
  private cache: { offset: number, data: Uint8Array } | undefined
  private next: Pending | undefined

  /** `sizer.chunkBytes(length)`: how much to read at once for a range of `length` (at least that). */
  constructor (private readonly file: OpenFile, private readonly sizer: { chunkBytes: (length: number) => number }) {
    if (file.bytes !== undefined && file.bytes.length === file.size) this.cache = { offset: 0, data: file.bytes }
  }

  /** The current buffer (what `covered()` ranges are read from) and its offset in the file. */
  get body (): Uint8Array { return this.cache?.data ?? EMPTY }
  get base (): number { return this.cache?.offset ?? 0 }

  /**
   * Whether the current buffer holds these bytes. When it does not and the read ahead is done
   * and holds them, that becomes the buffer, without a promise hop (unless `promote` is false:
   * a window already checked against the current buffer is sent from that one buffer). Past
   * half of the buffer, the next one is read ahead.
   */
  covered (offset: number, length: number, promote = true): boolean {
    if (length === 0) return true
    let c = this.cache
    if (c === undefined || offset < c.offset || offset + length > c.offset + c.data.length) {
      const n = this.next
      if (!promote || n?.ready === undefined || offset < n.offset || offset + length > n.offset + n.ready.length) return false
      c = this.cache = { offset: n.offset, data: n.ready }
      this.next = undefined
    }
    const end = c.offset + c.data.length
    if (this.next === undefined && end < this.file.size && offset + length > c.offset + (c.data.length >> 1)) {
      const size = Math.min(this.sizer.chunkBytes(length), this.file.size - end)
      const next: Pending = {
        offset: end,
        length: size,
        data: this.file.read(end, size).then((d) => {
          if (d.length === size) next.ready = d
          return d
        }, () => undefined)
      }
      this.next = next
    }
    return true
  }

  /** A view of the bytes when they are in the buffer, else undefined. */
  cached (offset: number, length: number): Uint8Array | undefined {
    if (length === 0) return EMPTY
    if (!this.covered(offset, length)) return undefined
    const c = this.cache as { offset: number, data: Uint8Array }
    return c.data.subarray(offset - c.offset, offset - c.offset + length)
  }

  /** The bytes, reading them when needed; shorter than `length` when the file shrank. Throws when the source fails. */
  async read (offset: number, length: number): Promise<Uint8Array> {
    const hit = this.cached(offset, length)
    if (hit !== undefined) return hit
    const n = this.next
    if (n !== undefined) {
      this.next = undefined
      const data = await n.data
      if (data === undefined || data.length < n.length) throw new Error('read failed')
      this.cache = { offset: n.offset, data }
      const again = this.cached(offset, length)
      if (again !== undefined) return again
    }
    const want = Math.min(this.sizer.chunkBytes(length), this.file.size - offset)
    this.cache = undefined // at most two buffers: drop this one before reading another
    const data = await this.file.read(offset, want)
    this.cache = { offset, data }
    if (data.length < length) return data
    return this.cached(offset, length) ?? data.subarray(0, length)
  }

  /** Drops the buffers; a read still in flight is returned, to settle before the file is closed. */
  release (): Promise<unknown> | undefined {
    this.cache = undefined
    const n = this.next
    this.next = undefined
    return n?.data
  }
}
