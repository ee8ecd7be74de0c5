// Issue 4: 5 % packet loss and 100 ms delay on both ends of the link (netem, or its NFQUEUE
// stand-in where the kernel lacks sch_netem): every transfer of every client completes byte-exact.
// Files are small (tens of KB) so the run stays within about a minute.
import t from 'tap'
import { join } from 'node:path'
import { impair } from '../../bench/netns.js'
import { fileSha, tftpEnv } from '../helpers/tftp-env.js'

const env = await tftpEnv(t, { files: { 'a.bin': 24_000, 'b.bin': 64_000 }, limits: '{ deadline: 30s, maxTransfersPerClient: 32 }' })


if (env !== null) {
  const e = env
  t.test('5% loss and 100 ms delay each way: every transfer completes', async t => {
    const how = [
      await impair(e.client, e.link.b.ifname, { lossPct: 5, delayMs: 100, seed: 11 }),
      await impair(e.server, e.link.a.ifname, { lossPct: 5, delayMs: 100, seed: 12 })
    ]
    t.comment(`impairment via ${how.join(', ')}`)
    // The delay is real: a lockstep exchange cannot be faster than its round trips.
    const probe = await e.script({ file: 'small.bin', options: { blksize: 512 } })
    t.equal(probe.sha256, e.sha['small.bin'])
    t.ok(probe.ms >= 6 * 200, `6 blocks lockstep took at least 6 round trips of 200 ms (${probe.ms} ms)`)

    const jobs: Array<[string, string, string[]]> = [
      ['tftp-hpa', 'a.bin', ['tftp', e.host, '-m', 'binary', '-c', 'get', 'a.bin']],
      ['atftp blksize 1468', 'b.bin', ['atftp', '--option', 'blksize 1468', '--get', '-r', 'b.bin', '-l', '@', e.host]],
      ['atftp windowsize 4', 'b.bin', ['atftp', '--option', 'blksize 1468', '--option', 'windowsize 4', '--get', '-r', 'b.bin', '-l', '@', e.host]],
      ['curl --tftp-blksize 1468', 'b.bin', ['curl', '-sS', '--max-time', '60', '--tftp-blksize', '1468', '-o', '@', `tftp://${e.host}/b.bin`]],
      ['busybox -b 1468', 'b.bin', ['busybox', 'tftp', '-b', '1468', '-g', '-r', 'b.bin', '-l', '@', e.host]],
      ['busybox', 'a.bin', ['busybox', 'tftp', '-g', '-r', 'a.bin', '-l', '@', e.host]]
    ]
    const results = await Promise.all([
      ...jobs.map(async ([name, file, argv], i) => {
        const dest = join(e.dir, 'out', `loss-${i}`)
        const args = argv.slice(1).map(a => (a === '@' ? dest : a))
        if (name === 'tftp-hpa') args.push(dest)
        const r = await e.client.run(argv[0] as string, args, { timeoutMs: 75_000 })
        return { name, file, ok: r.code === 0 && (await fileSha(dest)) === e.sha[file], detail: `exit ${String(r.code)} ${r.stderr.trim().slice(0, 120)}` }
      }),
      ...[1, 8].map(async windowsize => {
        const r = await e.script({ file: 'b.bin', options: { blksize: 1468, windowsize }, timeoutMs: 70_000 }, 75_000)
        return { name: `scripted windowsize ${windowsize}`, file: 'b.bin', ok: r.sha256 === e.sha['b.bin'], detail: JSON.stringify(r.error) }
      }),
      (async () => {
        // OVMF under loss: probe, abort, fetch.
        const p = await e.script({ file: 'a.bin', options: { tsize: 0, blksize: 1468 }, probeAbort: true, timeoutMs: 30_000 })
        const r = await e.script({ file: 'a.bin', options: { tsize: 0, blksize: 1468 }, timeoutMs: 40_000 }, 75_000)
        return { name: 'OVMF probe then fetch', file: 'a.bin', ok: p.oack?.tsize === '24000' && r.sha256 === e.sha['a.bin'], detail: JSON.stringify([p.error, r.error]) }
      })()
    ])
    for (const r of results) t.ok(r.ok, `${r.name}: ${r.file} byte-exact${r.ok ? '' : ` (${r.detail})`}`)
    const lines = e.transfers().filter(l => l.outcome === 'complete')
    t.ok(lines.reduce((n, l) => n + (l.retransmits as number), 0) > 0, 'the loss made the server retransmit')
  })
}
