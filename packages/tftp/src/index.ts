export {
  TftpErrorCode, TftpDecodeError, TftpEncodeError, TftpFileError,
  fileNotFound, accessViolation, isTftpFileError,
  type DecodeErrorCode, type EncodeErrorCode, type FileErrorCode
} from './errors.js'
export {
  Opcode, MAX_BLKSIZE, DEFAULT_BLKSIZE,
  encode, encodeInto, encodingLength, decode, ackBlock, getOption, wireNameToUtf8, utf8ToWireName,
  type TftpPacket, type RequestPacket, type DataPacket, type AckPacket, type ErrorPacket, type OackPacket, type TftpOption
} from './packet.js'
export {
  negotiate, blksizeForMtu, defaultNegotiationLimits,
  type NegotiationLimits, type Negotiated
} from './options.js'
export {
  start, step, bytesAcked, defaultTransferConfig,
  type TransferConfig, type TransferState, type TransferEvent, type StepResult, type Send, type Outcome,
  type Phase, type TransferError, type TransferErrorCode
} from './transfer.js'
export {
  memorySource, layeredSource, bufferFile, pathSegments, MAX_PATH_BYTES,
  type FileSource, type OpenFile, type RequestContext, type MemoryEntry
} from './file-source.js'
export { rootDirSource, resolveServedFile, type RootDirOptions } from './root-dir-source.js'
export {
  TftpServer,
  type TftpServerOptions, type TransferInfo, type DropInfo, type TftpCounters, type TftpServerEvents
} from './server.js'
