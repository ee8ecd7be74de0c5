/**
 * Error classes and the TFTP error-code table.
 *
 * Three kinds, never mixed (STYLE.md 6.6): wire errors (`TftpDecodeError`,
 * thrown by the codec, caught and counted by the server), encode errors (a bug
 * in the caller: a value that cannot be put on the wire), and file errors
 * (`TftpFileError`, thrown by a FileSource and turned into a TFTP ERROR packet).
 * Callers branch on `err.code`, never on message text.
 */

/** TFTP error codes (RFC 1350 section 5, RFC 2347 for 8). */
export const TftpErrorCode = {
  NotDefined: 0,
  FileNotFound: 1,
  AccessViolation: 2,
  DiskFull: 3,
  IllegalOperation: 4,
  UnknownTransferId: 5,
  FileExists: 6,
  NoSuchUser: 7,
  OptionNegotiation: 8
} as const
export type TftpErrorCode = (typeof TftpErrorCode)[keyof typeof TftpErrorCode]

export type DecodeErrorCode =
  | 'RB_TFTP_TRUNCATED'
  | 'RB_TFTP_BAD_OPCODE'
  | 'RB_TFTP_UNTERMINATED_STRING'
  | 'RB_TFTP_BAD_OPTIONS'
  | 'RB_TFTP_OVERSIZED'

/** A packet that cannot be decoded. `field` names the element, `offset` is where it starts. */
export class TftpDecodeError extends Error {
  override readonly name = 'TftpDecodeError'
  constructor (
    readonly code: DecodeErrorCode,
    readonly field: string,
    readonly offset: number,
    message: string
  ) {
    super(message)
  }
}

export type EncodeErrorCode = 'RB_TFTP_BAD_STRING' | 'RB_TFTP_BAD_BLOCK' | 'RB_TFTP_BAD_ERROR_CODE'

/** A packet value that cannot be encoded (a NUL inside a string, a block number out of range). */
export class TftpEncodeError extends Error {
  override readonly name = 'TftpEncodeError'
  constructor (
    readonly code: EncodeErrorCode,
    readonly field: string,
    message: string
  ) {
    super(message)
  }
}

export type FileErrorCode =
  | 'RB_TFTP_FILE_NOT_FOUND'
  | 'RB_TFTP_ACCESS_VIOLATION'
  | 'RB_TFTP_FILE_ERROR'

const fileErrorTftpCode: Record<FileErrorCode, TftpErrorCode> = {
  RB_TFTP_FILE_NOT_FOUND: TftpErrorCode.FileNotFound,
  RB_TFTP_ACCESS_VIOLATION: TftpErrorCode.AccessViolation,
  RB_TFTP_FILE_ERROR: TftpErrorCode.NotDefined
}

/**
 * A FileSource refusing or failing to serve a file. `tftpCode` is the code the
 * server sends in its ERROR packet; `message` is also sent, so keep it free of
 * local paths (the client only ever learns the name it asked for).
 */
export class TftpFileError extends Error {
  override readonly name = 'TftpFileError'
  readonly tftpCode: TftpErrorCode
  constructor (
    readonly code: FileErrorCode,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(message, options)
    this.tftpCode = fileErrorTftpCode[code]
  }
}

export function fileNotFound (path: string): TftpFileError {
  return new TftpFileError('RB_TFTP_FILE_NOT_FOUND', `File not found: ${path}`)
}

export function accessViolation (path: string, why: string): TftpFileError {
  return new TftpFileError('RB_TFTP_ACCESS_VIOLATION', `Access violation: ${path} (${why})`)
}

export function isTftpFileError (err: unknown): err is TftpFileError {
  return err instanceof TftpFileError
}
