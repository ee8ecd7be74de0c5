// Issue 4: a link slower than the server. A token-bucket shaper (tc tbf) on the server's end
// holds packets in its queue, where they still count against the sending socket's buffer: a
// window of 64 blocks of 8 KiB (512 KiB) does not fit the default 208 KiB, so sendmmsg takes part
// of each window and the server sends the rest queued behind it. The client must still get every
// block once and in order, and the transfer's log line says how many packets went that way.
import t from 'tap'
import { tftpEnv } from '../helpers/tftp-env.js'

const env = await tftpEnv(t, { mtu: 9000, files: { 'two.bin': 2_000_000 }, limits: '{ deadline: 20s, maxBlksize: 8192, maxWindowsize: 64 }' })

if (env !== null) {
  const e = env
  t.test('a shaped link fills the socket buffer: queued DATA keeps its order, every block arrives once', async t => {
    const dev = e.link.a.ifname
    const add = await e.server.run('tc', ['qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', '200mbit', 'burst', '64kb', 'limit', '8mb'])
    t.equal(add.code, 0, `tbf on ${dev}: ${add.stderr.trim()}`)
    t.teardown(async () => { await e.server.run('tc', ['qdisc', 'del', 'dev', dev, 'root']) })
    const size = e.size['two.bin'] as number
    const r = await e.script({ file: 'two.bin', options: { blksize: 8192, windowsize: 64 } })
    t.equal(r.error, null)
    t.same(r.oack, { blksize: '8192', windowsize: '64' }, 'both options granted')
    t.equal(r.sha256, e.sha['two.bin'], 'byte-exact')
    const blocks = Math.floor(size / 8192) + 1
    for (let i = 0; i < 50 && e.transfers('two.bin').length === 0; i++) await new Promise(resolve => setTimeout(resolve, 100))
    const [line] = e.transfers('two.bin')
    t.match(line, { outcome: 'complete', bytes: size, blksize: 8192, windowsize: 64 })
    const retransmits = line?.retransmits as number
    // Out-of-order blocks would make the client ACK the last in-order one and the server send
    // the rest of the window again (or time out): more DATA than blocks.
    t.equal(r.dataPackets, blocks + retransmits, `${blocks} blocks, ${r.dataPackets} DATA packets, ${retransmits} timeout retransmits`)
    t.ok((line?.queuedSends as number) > 0, `some DATA waited for the socket buffer (queuedSends ${String(line?.queuedSends)})`)
  })
}
