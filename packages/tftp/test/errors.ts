import t from 'tap'
import {
  accessViolation, fileNotFound, isTftpFileError, TftpDecodeError, TftpEncodeError, TftpErrorCode, TftpFileError
} from '../src/errors.js'

t.test('TFTP error code table (RFC 1350, RFC 2347)', async (t) => {
  t.same(TftpErrorCode, {
    NotDefined: 0, FileNotFound: 1, AccessViolation: 2, DiskFull: 3, IllegalOperation: 4,
    UnknownTransferId: 5, FileExists: 6, NoSuchUser: 7, OptionNegotiation: 8
  })
})

t.test('file errors carry a stable code and the TFTP code to send', async (t) => {
  const table: Array<[TftpFileError, string, number]> = [
    [fileNotFound('a.efi'), 'RB_TFTP_FILE_NOT_FOUND', 1],
    [accessViolation('../x', 'parent directory reference'), 'RB_TFTP_ACCESS_VIOLATION', 2],
    [new TftpFileError('RB_TFTP_FILE_ERROR', 'Cannot read x', { cause: new Error('EIO') }), 'RB_TFTP_FILE_ERROR', 0]
  ]
  for (const [err, code, tftpCode] of table) {
    t.type(err, Error)
    t.ok(isTftpFileError(err))
    t.match(err, { name: 'TftpFileError', code, tftpCode })
  }
  t.equal(fileNotFound('a.efi').message, 'File not found: a.efi', 'the message names the file the client asked for')
  t.equal(accessViolation('../x', 'parent directory reference').message, 'Access violation: ../x (parent directory reference)')
  t.notOk(isTftpFileError(new Error('x')))
})

t.test('decode and encode errors', async (t) => {
  const d = new TftpDecodeError('RB_TFTP_TRUNCATED', 'block', 2, 'short')
  t.match(d, { name: 'TftpDecodeError', code: 'RB_TFTP_TRUNCATED', field: 'block', offset: 2, message: 'short' })
  const e = new TftpEncodeError('RB_TFTP_BAD_BLOCK', 'block', 'too big')
  t.match(e, { name: 'TftpEncodeError', code: 'RB_TFTP_BAD_BLOCK', field: 'block' })
})
