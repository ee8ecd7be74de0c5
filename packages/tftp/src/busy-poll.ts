/**
 * After a send, keep the event loop polling instead of sleeping for up to `us` microseconds
 * while transfers are active: the next ACK is then handled without the wake-up latency of an
 * idle CPU (which bounds lockstep throughput), and in a storm the clients' packets need not
 * wake the process one by one. A pending setImmediate makes libuv poll with a zero timeout;
 * one clock read per loop turn, not one per send. While it spins, native transfer sockets
 * leave epoll and are scanned each turn (NativeHub.spin).
 */
import { performance } from 'node:perf_hooks'

export class BusyPoll {
  private lastSendAt = 0
  private sentSincePoll = false
  private polling = false

  /** `sentBelow`: whether the I/O layer sent on its own since last asked (the native fast path): that keeps the poll on too. */
  constructor (private readonly us: number, private readonly active: () => boolean, private readonly spin: (on: boolean) => void, private readonly sentBelow: () => boolean = () => false) {}

  /** A packet left: poll on (no-op when busy polling is off). */
  readonly sent = (): void => {
    if (this.us <= 0) return
    this.sentSincePoll = true
    if (!this.polling) {
      this.polling = true
      this.spin(true)
      setImmediate(this.poll)
    }
  }

  private readonly poll = (): void => {
    const at = performance.now()
    if (this.sentSincePoll || this.sentBelow()) {
      this.lastSendAt = at
      this.sentSincePoll = false
    }
    if (this.active() && at - this.lastSendAt < this.us / 1000) setImmediate(this.poll)
    else {
      this.polling = false
      this.spin(false)
    }
  }
}
