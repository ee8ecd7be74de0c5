// One operation at a time per BMC (they handle few sessions, and two power commands racing
// leave the machine in either state), bounded retries with backoff for what may pass (no
// answer, busy), none for what will not (a wrong password: no retry storm that locks the
// account), and a bound on each operation's whole time.
import { BmcError } from './driver.js'

export interface RetryPolicy {
  /** Tries in all (the first one included). */
  attempts: number
  /** Wait before the second try; doubled for each further one. */
  backoffMs: number
  /** No operation (all its tries) takes longer. */
  deadlineMs: number
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1000, deadlineMs: 60_000 }

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

export class BmcQueue {
  private readonly tails = new Map<string, Promise<unknown>>()

  /** How many BMCs have an operation queued or running. */
  get busy (): number { return this.tails.size }

  /**
   * Runs `op` after every earlier operation on the same BMC (`key`: its address and port) has
   * ended, with retries as `policy` says; resolves to its result and the tries it took.
   */
  async run<T> (key: string, op: () => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY): Promise<{ value: T; attempts: number }> {
    const before = this.tails.get(key) ?? Promise.resolve()
    const mine = before.catch(() => undefined).then(async () => await this.withRetries(op, policy))
    const tail = mine.catch(() => undefined)
    this.tails.set(key, tail)
    void tail.then(() => { if (this.tails.get(key) === tail) this.tails.delete(key) })
    return await mine
  }

  private async withRetries<T> (op: () => Promise<T>, p: RetryPolicy): Promise<{ value: T; attempts: number }> {
    const end = Date.now() + p.deadlineMs
    let wait = p.backoffMs
    for (let attempt = 1; ; attempt++) {
      try {
        return { value: await op(), attempts: attempt }
      } catch (err) {
        const e = err instanceof BmcError ? err : new BmcError('failed', (err as Error).message)
        if (!e.retriable || attempt >= p.attempts || Date.now() + wait > end) throw Object.assign(e, { attempts: attempt })
        await sleep(wait)
        wait *= 2
      }
    }
  }
}
