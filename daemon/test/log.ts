// LogBudget: repeated lines held back and counted per key and window.
import t from 'tap'
import { LogBudget } from '../src/log.js'

t.test('LogBudget lets perWindow lines a key through, counts the rest, and starts over on drain', async t => {
  const b = new LogBudget(3)
  const taken = Array.from({ length: 10 }, () => b.take('dhcp.declined/prov'))
  t.same(taken, [true, true, true, false, false, false, false, false, false, false])
  t.ok(b.take('lease.bound/prov'), 'another key has its own budget')
  t.same(b.drain(), { 'dhcp.declined/prov': 7 }, 'only keys with held-back lines')
  t.ok(b.take('dhcp.declined/prov'), 'a new window')
  t.same(b.drain(), {})
})
