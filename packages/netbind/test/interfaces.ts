// interfaceIndex()/interfaceExists() and boundInterface(): the daemon's "interface went away
// and came back" check. A link deleted and recreated under the same name gets a new index,
// while a socket stays bound to the old one (DESIGN.md: it goes deaf and must be reopened).
import t from 'tap'
import { createNetns } from '../../../bench/netns.js'
import { netnsSkip, startFixture } from './helpers/fixture.js'

interface Report { bound: { name: string, index: number }, now: number | null, exists: boolean, lo: number | null, missing: number | null }

const skip = netnsSkip(t)

t.test('a recreated interface gets a new index; the socket keeps the old one', { skip }, async t => {
  const ns = await createNetns(t, 'idx', { loopback: false })
  const linkIndex = (): number => Number(ns.ip('-o', 'link', 'show', 'dum0').split(':')[0])
  ns.ip('link', 'add', 'dum0', 'type', 'veth', 'peer', 'name', 'dum0p')
  // Another link in between, so the recreated dum0 cannot get its old index back.
  ns.ip('link', 'add', 'dum9', 'type', 'veth', 'peer', 'name', 'dum9p')
  const first = linkIndex()
  const f = startFixture(ns, 'ifindex.mjs', [])
  const initial = await f.line<Report>(0)
  t.same(initial.bound, { name: 'dum0', index: first }, 'bound to dum0 by its index')
  t.equal(initial.now, first, 'interfaceIndex() matches `ip link`')
  t.equal(initial.exists, true, 'interfaceExists()')
  t.equal(initial.lo, 1, 'lo is index 1 in a fresh namespace')
  t.equal(initial.missing, null, 'a missing interface has no index')

  ns.ip('link', 'del', 'dum0')
  f.send('check')
  const gone = await f.line<Report>(1)
  t.equal(gone.now, null, 'deleted: no index')
  t.equal(gone.exists, false, 'deleted: interfaceExists() is false')

  ns.ip('link', 'add', 'dum0', 'type', 'veth', 'peer', 'name', 'dum0p')
  f.send('check')
  const back = await f.line<Report>(2)
  t.equal(back.now, linkIndex(), 'recreated: the new index')
  t.not(back.now, back.bound.index, 'differs from the index the socket is bound to')
  f.child.stdin.end()
  t.equal(await f.exited, 0, 'fixture exited cleanly')
})
