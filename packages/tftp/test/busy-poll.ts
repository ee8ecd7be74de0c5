// BusyPoll: spins (and tells the mux) while sends keep coming and transfers are active, then
// stops by itself; off when its budget is 0.
import t from 'tap'
import { BusyPoll } from '../src/busy-poll.js'

t.test('spins after a send, stops busyPollUs after the last one', async t => {
  const spins: boolean[] = []
  let active = true
  const bp = new BusyPoll(2000, () => active, (on) => spins.push(on))
  bp.sent()
  bp.sent()
  t.same(spins, [true], 'one spin for many sends')
  await new Promise(resolve => setTimeout(resolve, 30))
  t.same(spins, [true, false], 'stopped once nothing was sent for 2 ms')
  bp.sent()
  active = false
  await new Promise(resolve => setImmediate(resolve))
  await new Promise(resolve => setImmediate(resolve))
  t.same(spins, [true, false, true, false], 'and at once when no transfer is active')
})

t.test('0 µs: never spins', async t => {
  const spins: boolean[] = []
  const bp = new BusyPoll(0, () => true, (on) => spins.push(on))
  bp.sent()
  await new Promise(resolve => setTimeout(resolve, 5))
  t.same(spins, [])
})
