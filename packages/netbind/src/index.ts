export { NetbindErrorCode, isNetbindError, type NetbindError } from './errors.js'
export {
  createBoundSocket, openBoundUdpSocket, boundInterface,
  type BoundSocketOptions, type OpenedSocket, type BoundInterface
} from './bound-socket.js'
export { interfaceIndex, interfaceExists } from './interfaces.js'
export {
  UdpMux, openConnectedUdp, sendGather, udpIoAvailable, MUX_SLOT_BYTES, MAX_GATHER, MuxBatch
} from './udpio.js'
