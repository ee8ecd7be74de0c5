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
 */
import { constants, promises as fs, type Stats } from 'node:fs'
import { join, sep } from 'node:path'
import { accessViolation, fileNotFound, TftpFileError } from './errors.js'
import { pathSegments, type FileSource, type OpenFile } from './file-source.js'

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

export function rootDirSource (root: string): FileSource {
  let rootReal: Promise<string> | undefined
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
      let real: string
      try {
        real = await fs.realpath(join(base, ...segments))
      } catch (err) {
        throw mapFsError(err, path)
      }
      if (real !== base && !real.startsWith(base.endsWith(sep) ? base : base + sep)) {
        throw accessViolation(path, 'resolves outside the served directory')
      }
      let st: Stats
      try {
        st = await fs.stat(real)
      } catch (err) {
        throw mapFsError(err, path)
      }
      if (!st.isFile()) throw accessViolation(path, kind(st))
      let fh: fs.FileHandle
      try {
        fh = await fs.open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
      } catch (err) {
        throw mapFsError(err, path)
      }
      try {
        const fst = await fh.stat()
        if (!fst.isFile() || fst.ino !== st.ino || fst.dev !== st.dev) {
          throw accessViolation(path, 'file changed while opening')
        }
        return fileHandleFile(fh, fst.size)
      } catch (err) {
        await fh.close()
        throw err instanceof TftpFileError ? err : mapFsError(err, path)
      }
    }
  }
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
