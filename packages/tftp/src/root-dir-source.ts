/**
 * Serve regular files below one directory, read on demand.
 *
 * Path safety, in order: the client path is split by `pathSegments` (no `..`,
 * backslash, control bytes, over-long names; a leading `/` is the root); the
 * joined path is resolved with realpath and must stay inside the root's
 * realpath (a symlink may point elsewhere inside the root, never outside); the
 * target must be a regular file (no directory, FIFO, socket or device); it is
 * opened with O_NOFOLLOW | O_NONBLOCK (a FIFO swapped in cannot block the
 * thread pool) and fstat must match the checked file (no swap between check
 * and open).
 *
 * With `linkedFiles`, the last component of a path may also be a symbolic link to
 * a regular file outside the root, as long as the directories on the way stay
 * inside: Debian's /usr/lib/ipxe holds `ipxe.efi -> /boot/ipxe.efi`. Only for
 * directories that only root can write (a link there is the administrator's
 * choice); never for an upload area.
 *
 * With `cacheBytes`, small files are kept in memory after their first read,
 * keyed by device, inode, size, mtime and ctime: a boot storm (dozens of
 * machines fetching the same iPXE binary) then costs one realpath and one stat
 * per request instead of an open, reads and a close each. A changed file has a
 * new key and is read again. Least recently used files leave first; memory
 * stays under `cacheBytes`.
 *
 * With `resolveTtlMs`, the outcome of those checks for a path (the file's real
 * path and identity, or "not found") is reused for that long: in a boot storm
 * the realpath and stat through the thread pool, once per request, were the
 * largest part of a small file's cost. A file changed, created or removed is
 * seen after at most the window (a file opened from disk that is no longer the
 * one checked is resolved again at once, never refused for it). Without it
 * (the default) every request is checked anew.
 */
import { constants, promises as fs, type Stats } from 'node:fs'
import { join, sep } from 'node:path'
import { performance } from 'node:perf_hooks'
import { accessViolation, fileNotFound, TftpFileError } from './errors.js'
import { bufferFile, pathSegments, type FileSource, type OpenFile } from './file-source.js'

function errnoCode (err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined
}

function mapFsError (err: unknown, path: string): TftpFileError {
  switch (errnoCode(err)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return fileNotFound(path)
    case 'EACCES':
    case 'EPERM':
      return accessViolation(path, 'permission denied')
    case 'ELOOP':
      return accessViolation(path, 'symbolic link loop')
    case 'ENAMETOOLONG':
      return accessViolation(path, 'name too long')
    default:
      return new TftpFileError('RB_TFTP_FILE_ERROR', `Cannot read ${path}`, { cause: err })
  }
}

function kind (st: Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a FIFO'
  if (st.isSocket()) return 'a socket'
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device'
  return 'not a regular file'
}

export interface RootDirOptions {
  /** Follow a final-component symlink to a regular file outside the root (see above). Default false. */
  linkedFiles?: boolean
  /** Memory for cached file contents, in bytes (0, the default: no cache). */
  cacheBytes?: number
  /** Largest file cached (default cacheBytes / 8). */
  maxCachedFileBytes?: number
  /** Reuse a path's checked resolution (or its "not found") for this many ms (default 0: check every request). */
  resolveTtlMs?: number
}

/** Paths whose resolution is remembered at once, at most (client-chosen names: bounded). */
const MAX_RESOLVED = 1024

type Resolution = { real: string, st: Stats } | TftpFileError

export function rootDirSource (root: string, options: RootDirOptions = {}): FileSource {
  let rootReal: Promise<string> | undefined
  const cacheBytes = options.cacheBytes ?? 0
  const maxFile = options.maxCachedFileBytes ?? Math.floor(cacheBytes / 8)
  // Map iteration order is insertion order: re-inserting on a hit makes it an LRU.
  const cache = new Map<string, Buffer>()
  let cached = 0
  const keyOf = (st: Stats): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`
  const remember = (key: string, data: Buffer): void => {
    if (data.length > maxFile || data.length > cacheBytes || cache.has(key)) return
    while (cached + data.length > cacheBytes) {
      const oldest = cache.keys().next()
      if (oldest.done === true) break
      cached -= (cache.get(oldest.value) as Buffer).length
      cache.delete(oldest.value)
    }
    cache.set(key, data)
    cached += data.length
  }
  const ttl = options.resolveTtlMs ?? 0
  const resolved = new Map<string, { at: number, result: Resolution }>()
  // A boot storm asks for one name from 50 clients at once: one check answers them all.
  const resolving = new Map<string, Promise<Resolution>>()
  const resolve = async (base: string, path: string, segments: string[], fresh: boolean): Promise<{ real: string, st: Stats }> => {
    if (ttl <= 0) return await resolveServedFile(base, path, segments, options.linkedFiles === true)
    // Keyed by the name as sent: a remembered error's message names what this client asked for.
    const known = fresh ? undefined : resolved.get(path)
    let result: Resolution
    if (known !== undefined && performance.now() - known.at < ttl) {
      result = known.result
    } else {
      let pending = fresh ? undefined : resolving.get(path)
      if (pending === undefined) {
        const at = performance.now()
        pending = resolveServedFile(base, path, segments, options.linkedFiles === true).then(
          (r): Resolution => r,
          (err: unknown): Resolution => {
            // Remember only answers about the file ("not found", "a directory"), not passing failures.
            if (!(err instanceof TftpFileError) || err.code === 'RB_TFTP_FILE_ERROR') throw err
            return err
          }
        ).then((r) => {
          if (resolved.size >= MAX_RESOLVED && !resolved.has(path)) resolved.clear()
          resolved.set(path, { at, result: r })
          return r
        }).finally(() => { if (resolving.get(path) === pending) resolving.delete(path) })
        resolving.set(path, pending)
      }
      result = await pending
    }
    if (result instanceof TftpFileError) throw result
    return result
  }
  // The first read of a file small enough to keep: requests that come meanwhile share it.
  const loading = new Map<string, Promise<Buffer | null>>()
  return {
    async open (path): Promise<OpenFile> {
      const segments = pathSegments(path)
      rootReal ??= fs.realpath(root)
      let base: string
      try {
        base = await rootReal
      } catch (err) {
        rootReal = undefined // the root may appear later; try again next time
        throw new TftpFileError('RB_TFTP_FILE_ERROR', `Cannot read ${path}`, { cause: err })
      }
      try {
        return await openResolved(path, await resolve(base, path, segments, false))
      } catch (err) {
        // Replaced since it was resolved (and remembered): resolve it again, once.
        if (ttl <= 0 || !(err instanceof FileChanged)) throw err
        return await openResolved(path, await resolve(base, path, segments, true))
      }
    }
  }

  async function openResolved (path: string, { real, st }: { real: string, st: Stats }): Promise<OpenFile> {
    const key = keyOf(st)
    const hit = cache.get(key)
    if (hit !== undefined) {
      cache.delete(key)
      cache.set(key, hit)
      return bufferFile(hit)
    }
    if (st.size <= maxFile && st.size <= cacheBytes) {
      // Small enough to keep: read whole, once however many ask meanwhile, and served from memory.
      let load = loading.get(key)
      if (load === undefined) {
        load = readWhole(path, real, st, key).finally(() => { loading.delete(key) })
        loading.set(key, load)
      }
      const data = await load
      if (data !== null) {
        remember(key, data)
        return bufferFile(data)
      }
    }
    const { fh, fst } = await openChecked(path, real, st)
    return fileHandleFile(fh, fst.size)
  }

  /** The file at `real`, if it is still the one resolved; FileChanged when it was replaced. */
  async function openChecked (path: string, real: string, st: Stats): Promise<{ fh: fs.FileHandle, fst: Stats }> {
    let fh: fs.FileHandle
    try {
      fh = await fs.open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    } catch (err) {
      throw mapFsError(err, path)
    }
    try {
      const fst = await fh.stat()
      if (!fst.isFile() || fst.ino !== st.ino || fst.dev !== st.dev) throw new FileChanged(path)
      return { fh, fst }
    } catch (err) {
      await fh.close()
      throw err instanceof TftpFileError ? err : mapFsError(err, path)
    }
  }

  /** The whole content when it is still what `key` says (else null: read it as any other file). */
  async function readWhole (path: string, real: string, st: Stats, key: string): Promise<Buffer | null> {
    const { fh, fst } = await openChecked(path, real, st)
    try {
      if (keyOf(fst) !== key) return null
      const data = await fileHandleFile(fh, fst.size).read(0, fst.size)
      if (data.length !== fst.size) throw new TftpFileError('RB_TFTP_FILE_ERROR', `Cannot read ${path}`)
      return data as Buffer
    } catch (err) {
      throw err instanceof TftpFileError ? err : mapFsError(err, path)
    } finally {
      await fh.close()
    }
  }
}

/** The file opened is not the one checked (replaced in between): an access violation. */
class FileChanged extends TftpFileError {
  constructor (path: string) {
    super('RB_TFTP_ACCESS_VIOLATION', `Access violation: ${path} (file changed while opening)`)
  }
}

const inside = (base: string, p: string): boolean => p === base || p.startsWith(base.endsWith(sep) ? base : base + sep)

/**
 * The real path and stats of the regular file that `segments` (from `pathSegments(path)`) name
 * below `base` (a realpath), under rootDirSource's rules; throws TftpFileError otherwise.
 * Shared with the daemon's HTTP route for iPXE binaries, so both protocols serve the same files.
 */
export async function resolveServedFile (base: string, path: string, segments: string[], linkedFiles: boolean): Promise<{ real: string, st: Stats }> {
  let real: string
  try {
    real = await fs.realpath(join(base, ...segments))
  } catch (err) {
    throw mapFsError(err, path)
  }
  if (!inside(base, real)) {
    let allowed = false
    if (linkedFiles && segments.length > 0) {
      try {
        const parent = await fs.realpath(join(base, ...segments.slice(0, -1)))
        allowed = inside(base, parent) && (await fs.lstat(join(parent, segments[segments.length - 1] as string))).isSymbolicLink()
      } catch {
        allowed = false
      }
    }
    if (!allowed) throw accessViolation(path, 'resolves outside the served directory')
  }
  let st: Stats
  try {
    st = await fs.stat(real)
  } catch (err) {
    throw mapFsError(err, path)
  }
  if (!st.isFile()) throw accessViolation(path, kind(st))
  return { real, st }
}

function fileHandleFile (fh: fs.FileHandle, size: number): OpenFile {
  let closed = false
  return {
    size,
    async read (offset, length) {
      const buf = Buffer.allocUnsafe(length)
      let done = 0
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done)
        if (bytesRead === 0) break
        done += bytesRead
      }
      return done === length ? buf : buf.subarray(0, done)
    },
    async close () {
      if (closed) return
      closed = true
      await fh.close()
    }
  }
}
