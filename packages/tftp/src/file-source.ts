/**
 * Where files come from. The server calls `open(path)` once per read request
 * and then `read(offset, length)` for each window, so a source never has to
 * hold a whole file and a transfer's memory is bounded by one window.
 *
 * `path` is the filename exactly as the client sent it (latin1-decoded wire
 * bytes, see packet.ts). A source refuses with a `TftpFileError`, whose code
 * becomes the TFTP ERROR code (1 file not found, 2 access violation); any other
 * thrown error is sent as ERROR 0 without its message.
 */
import { accessViolation, fileNotFound, TftpFileError } from './errors.js'
import { utf8ToWireName, wireNameToUtf8 } from './packet.js'

export interface OpenFile {
  /** Size in bytes, fixed for the life of the transfer. */
  readonly size: number
  /** Read `length` bytes at `offset` (offset + length <= size). A shorter result means the file shrank. */
  read (offset: number, length: number): Promise<Uint8Array>
  close (): Promise<void>
  /**
   * The whole content, when the source already holds it in memory (a file cache, generated
   * content): the server then sends from it directly, without reads. Never a copy made for this.
   */
  readonly bytes?: Uint8Array
}

/** Who asked: lets a source serve per-client content (e.g. by the client's address). */
export interface RequestContext {
  remoteAddress: string
  remotePort: number
}

export interface FileSource {
  open (path: string, context?: RequestContext): Promise<OpenFile>
}

/** Longest accepted filename, in bytes (a path component limit on Linux, and far beyond any boot file name). */
export const MAX_PATH_BYTES = 255

/**
 * Split a client path into safe segments, or throw `TftpFileError`:
 * a leading `/` means the root; empty and `.` segments are dropped;
 * `..`, backslashes, NUL and other control bytes, invalid UTF-8 and names
 * longer than MAX_PATH_BYTES are access violations.
 */
export function pathSegments (path: string): string[] {
  if (path.length > MAX_PATH_BYTES) throw accessViolation(path.slice(0, 64) + '...', `longer than ${MAX_PATH_BYTES} bytes`)
  // Control characters (NUL included) have no place in a boot file name and would
  // be truncated or misread by the file system.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) throw accessViolation(JSON.stringify(path), 'control character in name')
  if (path.includes('\\')) throw accessViolation(path, 'backslash in name')
  const utf8 = wireNameToUtf8(path)
  if (utf8 === undefined) throw accessViolation(path, 'name is not valid UTF-8')
  const segments: string[] = []
  for (const segment of utf8.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') throw accessViolation(path, 'parent directory reference')
    segments.push(segment)
  }
  return segments
}

/** An open file over a buffer in memory. */
export function bufferFile (data: Uint8Array): OpenFile {
  return {
    size: data.length,
    bytes: data,
    read: async (offset, length) => data.subarray(offset, offset + length),
    close: async () => {}
  }
}

export type MemoryEntry =
  | Uint8Array
  | string
  | ((context: RequestContext | undefined) => Uint8Array | string | null | Promise<Uint8Array | string | null>)

/**
 * Files served from memory, keyed by path (normalised like a client path, so
 * `/boot.ipxe` and `boot.ipxe` are the same key). A function entry generates
 * the content per request (e.g. a per-machine script); returning null means
 * "not found". Strings are served as UTF-8.
 */
export function memorySource (entries: Record<string, MemoryEntry> | Map<string, MemoryEntry>): FileSource {
  const table = new Map<string, MemoryEntry>()
  const list = entries instanceof Map ? [...entries] : Object.entries(entries)
  for (const [key, value] of list) table.set(pathSegments(utf8ToWireName(key)).join('/'), value)
  return {
    async open (path, context) {
      const key = pathSegments(path).join('/')
      const entry = table.get(key)
      if (entry === undefined) throw fileNotFound(path)
      const content = typeof entry === 'function' ? await entry(context) : entry
      if (content === null) throw fileNotFound(path)
      return bufferFile(typeof content === 'string' ? Buffer.from(content, 'utf8') : content)
    }
  }
}

/**
 * Several sources as one: the first that has the file wins. Only "file not
 * found" falls through to the next source; an access violation or any other
 * error ends the search (a bad name is bad everywhere).
 */
export function layeredSource (sources: readonly FileSource[]): FileSource {
  return {
    async open (path, context) {
      for (const source of sources) {
        try {
          return await source.open(path, context)
        } catch (err) {
          if (err instanceof TftpFileError && err.code === 'RB_TFTP_FILE_NOT_FOUND') continue
          throw err
        }
      }
      throw fileNotFound(path)
    }
  }
}
