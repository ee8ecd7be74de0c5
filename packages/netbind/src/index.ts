export { NetbindErrorCode, isNetbindError, type NetbindError } from './errors.js'
export {
  createBoundSocket, openBoundUdpSocket, boundInterface,
  type BoundSocketOptions, type OpenedSocket, type BoundInterface
} from './bound-socket.js'
export { interfaceIndex, interfaceExists } from './interfaces.js'
export {
  UdpMux, openConnectedUdp, openUdp, localPort, sendTo, sendGather, udpIoAvailable, MUX_SLOT_BYTES, MUX_WRITABLE, MUX_ADVANCED, MAX_GATHER, MuxBatch
} from './udpio.js'
export { openIcmp6Socket, openIcmp4Socket, internetChecksum, type RawIcmpSocket, type RawPacketHandler } from './raw.js'
