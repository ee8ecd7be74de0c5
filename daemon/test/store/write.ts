// Store's group commits: writeSoon within the loop turn, writeWithin within its delay, close() commits what waits.
import t from 'tap'
import { Store } from '../../src/store/index.js'
import { config } from '../helpers/build.js'

t.test('writeWithin commits its queue together after the delay; close() commits what is still queued', async t => {
  const loaded = config(t)
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
  const seen: number[] = []
  store.events.feed.on('event', e => seen.push(e.id))
  const began = Date.now()
  const a = store.writeWithin(80, () => store.events.append({ actor: 't', type: 'x' }))
  await new Promise(resolve => setTimeout(resolve, 20))
  const b = store.writeWithin(80, () => store.events.append({ actor: 't', type: 'x' }))
  t.same(seen, [], 'nothing published before the commit')
  const [ea, eb] = await Promise.all([a, b])
  t.ok(Date.now() - began >= 75, 'committed after the first one\'s delay')
  t.same(seen, [ea.id, eb.id], 'both in one commit, published after it')
  const failing = store.writeWithin(50, () => { throw new Error('bad job') })
  const ok = store.writeWithin(50, () => store.events.append({ actor: 't', type: 'y' }))
  await t.rejects(failing, /bad job/)
  t.equal((await ok).type, 'y', 'a failing job fails alone')
  const pending = store.writeWithin(10_000, () => store.events.append({ actor: 't', type: 'z' }))
  store.close()
  t.equal((await pending).type, 'z', 'close() committed it rather than dropping it')
})
