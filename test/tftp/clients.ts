// Issue 4: the daemon's TFTP service against real clients (tftp-hpa, atftp, curl, busybox),
// daemon and clients in two network namespaces linked by a veth: byte-exact downloads of small,
// 1 MB and 80 MB files, iPXE binaries from boot.ipxeDir under boot.tftpRoot, hostile paths refused.
import t, { type Test } from 'tap'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileSha, tftpEnv, type TftpEnv } from '../helpers/tftp-env.js'

const MB = 1_000_000
const BIG = 80 * 1024 * 1024

const env = await tftpEnv(t, { files: { 'mega.bin': MB, 'big.bin': BIG }, limits: '{ deadline: 10s, maxWindowsize: 64 }' })


type Client = (e: TftpEnv, file: string, dest: string) => [string, string[]]
const clients: Record<string, Client> = {
  'tftp-hpa': (e, file, dest) => ['tftp', [e.host, '-m', 'binary', '-c', 'get', file, dest]],
  atftp: (e, file, dest) => ['atftp', ['--get', '-r', file, '-l', dest, e.host]],
  'atftp blksize 1468': (e, file, dest) => ['atftp', ['--option', 'blksize 1468', '--get', '-r', file, '-l', dest, e.host]],
  'atftp windowsize 16': (e, file, dest) => ['atftp', ['--option', 'blksize 1468', '--option', 'windowsize 16', '--get', '-r', file, '-l', dest, e.host]],
  'curl --tftp-blksize 1468': (e, file, dest) => ['curl', ['-sS', '--max-time', '120', '--tftp-blksize', '1468', '-o', dest, `tftp://${e.host}/${file}`]],
  curl: (e, file, dest) => ['curl', ['-sS', '--max-time', '60', '-o', dest, `tftp://${e.host}/${file}`]],
  busybox: (e, file, dest) => ['busybox', ['tftp', '-g', '-r', file, '-l', dest, e.host]],
  'busybox -b 1468': (e, file, dest) => ['busybox', ['tftp', '-b', '1468', '-g', '-r', file, '-l', dest, e.host]]
}

async function get (tt: Test, e: TftpEnv, name: string, file: string, timeoutMs = 60_000): Promise<{ code: number | null; dest: string; ms: number }> {
  const dest = join(e.dir, 'out', `${name.replace(/\W+/g, '_')}-${file.replace(/\W+/g, '_').slice(0, 60)}`)
  rmSync(dest, { force: true })
  const [cmd, args] = (clients[name] as Client)(e, file, dest)
  const t0 = Date.now()
  const r = await e.client.run(cmd, args, { timeoutMs })
  if (r.code !== 0) tt.comment(`${name} ${file}: exit ${String(r.code)} ${r.stderr.trim().slice(0, 200)}`)
  return { code: r.code, dest, ms: Date.now() - t0 }
}

if (env !== null) {
  const e = env
  const matrix: Array<[string, string[]]> = [
    ['tftp-hpa', ['small.bin', 'mega.bin', 'big.bin']], // big at 512-byte blocks: the block counter rolls over
    ['atftp', ['small.bin', 'mega.bin']],
    ['atftp blksize 1468', ['mega.bin', 'big.bin']],
    ['atftp windowsize 16', ['mega.bin', 'big.bin']],
    ['curl', ['small.bin']],
    ['curl --tftp-blksize 1468', ['small.bin', 'mega.bin', 'big.bin']],
    ['busybox', ['small.bin', 'mega.bin']],
    ['busybox -b 1468', ['mega.bin', 'big.bin']]
  ]
  for (const [name, files] of matrix) {
    t.test(`${name}: byte-exact downloads`, async tt => {
      for (const file of files) {
        const r = await get(tt, e, name, file, 120_000)
        tt.equal(r.code, 0, `${file}: exit 0`)
        tt.equal(await fileSha(r.dest), e.sha[file], `${file}: ${e.size[file]} bytes, sha256 matches (${r.ms} ms)`)
        rmSync(r.dest, { force: true })
      }
    })
  }

  t.test('the daemon logged one info line per download, with client, file, bytes, duration and retransmits', async tt => {
    const big = e.transfers('big.bin')
    tt.equal(big.length, 5, 'five big downloads')
    for (const l of big) {
      tt.match(l, { level: 30, svc: 'tftp', msg: 'TFTP transfer complete', outcome: 'complete', bytes: BIG, size: BIG, ip: e.link.b.ip, port: Number, durationMs: Number, retransmits: Number })
    }
    tt.same(new Set(big.map(l => l.blksize)), new Set([512, 1468]), 'tftp-hpa at 512, the others at 1468')
    tt.ok(big.some(l => l.windowsize === 16), 'atftp got windowsize 16')
    tt.equal(e.transfers().filter(l => l.outcome !== 'complete').length, 0, 'no failed transfer so far')
  })

  t.test('iPXE binaries: boot.tftpRoot wins over boot.ipxeDir, the rest comes from ipxeDir', async tt => {
    let r = await get(tt, e, 'tftp-hpa', 'undionly.kpxe')
    tt.equal(await fileSha(r.dest), e.sha['undionly.kpxe'], 'undionly.kpxe from tftpRoot')
    tt.not(e.sha['undionly.kpxe'], e.sha['ipxe:undionly.kpxe'])
    r = await get(tt, e, 'curl --tftp-blksize 1468', 'ipxe.efi')
    tt.equal(await fileSha(r.dest), e.sha['ipxe.efi'], 'ipxe.efi from ipxeDir, where it is a link to ../boot/ipxe.efi as on Debian')
    r = await get(tt, e, 'atftp', '/sub/nested.bin')
    tt.equal(await fileSha(r.dest), e.sha['sub/nested.bin'], 'a leading / is the root; subdirectories work')
    r = await get(tt, e, 'busybox', 'inside-link')
    tt.equal(await fileSha(r.dest), e.sha['small.bin'], 'a symlink inside the root is followed')
  })

  t.test('hostile paths are refused through real clients', async tt => {
    // [client, path, expected TFTP error code]
    const cases: Array<[string, string, number]> = [
      ['tftp-hpa', '../secret.txt', 2],
      ['atftp', '../secret.txt', 2],
      ['busybox', 'sub/../../secret.txt', 2],
      ['tftp-hpa', 'escape', 2], // symlink to a file outside the root
      ['atftp', 'escape', 2],
      ['tftp-hpa', '/etc/passwd', 1], // absolute: relative to the roots, where there is none
      ['busybox', '/etc/hostname', 1],
      ['atftp', '..\\secret.txt', 2],
      ['tftp-hpa', 'sub', 2], // a directory
      ['busybox', `${'a'.repeat(300)}`, 2], // over-long name
      ['tftp-hpa', 'missing.bin', 1]
    ]
    for (const [name, path, code] of cases) {
      const before = e.transfers().length
      const r = await get(tt, e, name, path, 20_000)
      const content = existsSync(r.dest) ? readFileSync(r.dest, 'utf8') : ''
      tt.notOk(content.includes('secret-') || content.includes('root:'), `${name} ${JSON.stringify(path.slice(0, 40))}: nothing leaked`)
      // this request's own line: an earlier transfer's line may still arrive after `before`
      const line = await e.daemon.waitLog(l => l.svc === 'tftp' && l.outcome !== undefined && l.file === path && e.transfers().indexOf(l) >= before, 5000)
      tt.match(line, { outcome: 'rejected', tftpCode: code, msg: 'TFTP transfer failed', bytes: 0 }, `${name} ${JSON.stringify(path.slice(0, 40))}: refused with TFTP error ${code}`)
    }
    // curl normalises ../ away unless told not to; with --path-as-is the server still refuses.
    const dest = join(e.dir, 'out', 'curl-escape')
    const r = await e.client.run('curl', ['-sS', '--path-as-is', '-o', dest, `tftp://${e.host}/../secret.txt`], { timeoutMs: 20_000 })
    tt.not(r.code, 0, `curl --path-as-is ../secret.txt fails (exit ${String(r.code)}: ${r.stderr.trim()})`)
    tt.notOk(existsSync(dest) && readFileSync(dest, 'utf8').includes('secret-'), 'curl: nothing leaked')
  })
}
