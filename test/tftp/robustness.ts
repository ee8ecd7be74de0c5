// Issue 4: firmware quirks and misbehaving clients against the daemon's TFTP service, in
// network namespaces: OVMF's tsize probe aborted with ERROR 8, a client that ACKs twice (no
// duplicate storm), a 3 s stall (completes), a client gone for good (ends at the deadline),
// 100 concurrent real clients.
import t from 'tap'
import { join } from 'node:path'
import { fileSha, tftpEnv } from '../helpers/tftp-env.js'

const DEADLINE_MS = 8000
const env = await tftpEnv(t, { files: { 'mega.bin': 1_000_000, 'even.bin': 512 * 600 }, limits: `{ deadline: ${DEADLINE_MS / 1000}s, maxTransfersPerClient: 100, maxTransfers: 256 }` })


if (env !== null) {
  const e = env

  t.test('OVMF: tsize probe, ERROR 8, then the full fetch', async t => {
    const size = e.size['ipxe.efi'] as number
    const probe = await e.script({ file: 'ipxe.efi', options: { tsize: 0, blksize: 1468 }, probeAbort: true })
    t.equal(probe.ok, true, 'the probe got an OACK')
    t.same(probe.oack, { tsize: String(size), blksize: '1468' }, 'OACK carries the real size and the blksize')
    t.equal(probe.dataPackets, 0, 'no data before the ACK of the OACK')
    const full = await e.script({ file: 'ipxe.efi', options: { tsize: 0, blksize: 1468 } })
    t.equal(full.error, null)
    t.equal(full.sha256, e.sha['ipxe.efi'], 'the second fetch is byte-exact')
    const lines = await waitTransfers(() => e.transfers('ipxe.efi'), 2)
    t.match(lines[0], { level: 20, outcome: 'options-refused', msg: 'TFTP option probe refused by the client', bytes: 0 }, 'the probe is logged at debug, not as a failure')
    t.match(lines[1], { level: 30, outcome: 'complete', bytes: size, blksize: 1468 })
  })

  async function waitTransfers (lines: () => Array<Record<string, any>>, n: number): Promise<Array<Record<string, any>>> {
    for (let i = 0; i < 50 && lines().length < n; i++) await new Promise(resolve => setTimeout(resolve, 100))
    return lines()
  }

  t.test('a client that ACKs every block twice gets every block once (no Sorcerer\'s Apprentice)', async t => {
    const size = e.size['mega.bin'] as number
    for (const windowsize of [1, 8]) {
      const before = e.transfers('mega.bin').length
      const r = await e.script({ file: 'mega.bin', options: { blksize: 512, windowsize }, ackTwice: true, lingerMs: 1500 })
      const blocks = Math.floor(size / 512) + 1
      t.equal(r.sha256, e.sha['mega.bin'], `windowsize ${windowsize}: byte-exact`)
      // Only a timeout may resend (none on a clean link unless the machine stalls for 1 s): every
      // DATA packet beyond one per block must be a retransmission the server logged as such.
      const [line] = (await waitTransfers(() => e.transfers('mega.bin'), before + 1)).slice(before)
      const retransmits = line?.retransmits as number
      t.equal(r.dataPackets, blocks + retransmits, `windowsize ${windowsize}: ${blocks} blocks, ${r.dataPackets} DATA packets, ${retransmits} timeout retransmits, ${r.acksSent} ACKs sent`)
      t.ok(retransmits <= windowsize * 2, `windowsize ${windowsize}: no duplicate storm (${retransmits} retransmits)`)
    }
    // A size that is a multiple of the block size ends with an empty block.
    const r = await e.script({ file: 'even.bin', options: { blksize: 512 }, ackTwice: true, lingerMs: 500 })
    t.equal(r.sha256, e.sha['even.bin'])
    t.ok(r.dataPackets >= 601 && r.dataPackets <= 603, `600 full blocks and one empty one (${r.dataPackets} DATA packets)`)
  })

  t.test('a packet from a wrong TID gets ERROR 5 and does not disturb the transfer', async t => {
    const r = await e.script({ file: 'mega.bin', options: { blksize: 1468 }, strayAfterBlock: 20 })
    t.match(r.stray, { opcode: 5, errorCode: 5 }, 'the stray socket got ERROR 5 (unknown transfer ID)')
    t.equal(r.sha256, e.sha['mega.bin'], 'the transfer completed byte-exact')
  })

  t.test('a client stalling 3 s mid-transfer completes', async t => {
    const before = e.transfers('mega.bin').length
    const r = await e.script({ file: 'mega.bin', options: { blksize: 1468 }, stallAfterBlock: 200, stallMs: 3000 })
    t.equal(r.error, null)
    t.equal(r.sha256, e.sha['mega.bin'], 'byte-exact after the stall')
    t.ok(r.ms >= 3000, `took the stall and more (${r.ms} ms)`)
    const [line] = (await waitTransfers(() => e.transfers('mega.bin'), before + 1)).slice(before)
    t.match(line, { outcome: 'complete', bytes: e.size['mega.bin'] })
    t.ok((line?.retransmits as number) > 0, `the server retransmitted (${String(line?.retransmits)})`)
  })

  t.test('a client gone for good: the transfer ends cleanly at the configured deadline', async t => {
    const before = e.transfers('ipxe.efi').length
    const t0 = Date.now()
    const r = await e.script({ file: 'ipxe.efi', options: { blksize: 1468 }, stallAfterBlock: 10, stallMs: 60_000, timeoutMs: DEADLINE_MS + 4000 }, 30_000)
    t.not(r.error, null, 'the client never finished')
    const line = await e.daemon.waitLog(l => l.svc === 'tftp' && l.file === 'ipxe.efi' && e.transfers('ipxe.efi').indexOf(l) >= before, 5000)
    t.match(line, { level: 30, msg: 'TFTP transfer failed', outcome: 'timeout', reason: 'RB_TFTP_TIMEOUT' })
    const took = line.durationMs as number
    t.ok(took >= DEADLINE_MS && took < DEADLINE_MS + 4000, `given up after the ${DEADLINE_MS} ms deadline without progress (${took} ms)`)
    t.ok(Date.now() - t0 < DEADLINE_MS + 8000, 'within bounds')
  })

  t.test('100 concurrent real clients all complete', async t => {
    const before = e.transfers('ipxe.efi').filter(l => l.outcome === 'complete').length
    const kinds: Array<(i: number, dest: string) => [string, string[]]> = [
      (_i, dest) => ['tftp', [e.host, '-m', 'binary', '-c', 'get', 'ipxe.efi', dest]],
      (_i, dest) => ['busybox', ['tftp', '-b', '1468', '-g', '-r', 'ipxe.efi', '-l', dest, e.host]],
      (_i, dest) => ['curl', ['-sS', '--max-time', '60', '--tftp-blksize', '1468', '-o', dest, `tftp://${e.host}/ipxe.efi`]],
      (_i, dest) => ['atftp', ['--option', 'blksize 1468', '--option', 'windowsize 8', '--get', '-r', 'ipxe.efi', '-l', dest, e.host]]
    ]
    const t0 = Date.now()
    const results = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const dest = join(e.dir, 'out', `storm-${i}`)
      const [cmd, args] = (kinds[i % kinds.length] as (i: number, dest: string) => [string, string[]])(i, dest)
      const r = await e.client.run(cmd, args, { timeoutMs: 90_000 })
      return { i, cmd, code: r.code, sha: await fileSha(dest), stderr: r.stderr }
    }))
    const ms = Date.now() - t0
    const bad = results.filter(r => r.code !== 0 || r.sha !== e.sha['ipxe.efi'])
    t.same(bad.map(r => `${r.i} ${r.cmd}: exit ${String(r.code)} ${r.stderr.trim().slice(0, 100)}`), [], `all 100 byte-exact (${ms} ms)`)
    const after = await waitTransfers(() => e.transfers('ipxe.efi').filter(l => l.outcome === 'complete'), before + 100)
    t.equal(after.length - before, 100, 'the daemon logged 100 completed transfers')
    t.notOk(e.daemon.logs().some(l => l.msg === 'TFTP drop' && l.reason === 'busy'), 'nobody was turned away as busy')
  })
}
