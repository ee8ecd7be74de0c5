import t from 'tap'
import { MessageType, messageTypeName, expectedOp, BootOp } from '../src/message-type.js'

t.test('names and directions', async t => {
  t.equal(messageTypeName(MessageType.Discover), 'DISCOVER')
  t.equal(messageTypeName(MessageType.Nak), 'NAK')
  t.equal(messageTypeName(MessageType.LeaseQuery), 'LEASEQUERY')
  t.equal(messageTypeName(99), 'message-type-99')
  for (const m of [MessageType.Discover, MessageType.Request, MessageType.Decline, MessageType.Release, MessageType.Inform]) {
    t.equal(expectedOp(m), BootOp.Request)
  }
  for (const m of [MessageType.Offer, MessageType.Ack, MessageType.Nak]) t.equal(expectedOp(m), BootOp.Reply)
  t.equal(expectedOp(MessageType.ForceRenew), undefined)
  t.equal(expectedOp(0), undefined)
})
