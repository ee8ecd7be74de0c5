// The IPv6 router-solicitation answer against real peers: rdisc6 (ndisc6) solicits and prints
// the advertisement it got; radvd (Debian) is "another router on the LAN"; tcpdump on the
// bridges shows what rackboot sent. Two LANs: `ra` (ipv6RouterAnswer: auto, the default) and
// `quiet` (off).
import t from 'tap'
import { type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { netnsUnavailable, requireOrSkip, type Netns } from '../../bench/netns.js'
import { dhcpLab, labMetric, type Lab } from '../helpers/dhcp-lab.js'

const why = netnsUnavailable(['rdisc6', 'radvd', 'tcpdump'])

/** Waits until `ifname` in `ns` has a link-local address that finished duplicate address detection. */
async function linkLocal (ns: Netns, ifname: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const out = (await ns.run('ip', ['-6', 'addr', 'show', 'dev', ifname, 'scope', 'link'])).stdout
    const m = /inet6 (fe80::[0-9a-f:]+)\/64 scope link(?! tentative)(?!.*tentative)/.exec(out)
    if (m !== null && !/tentative/.test(out)) return m[1] as string
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${ifname} got no usable link-local address`)
}

/** Router advertisements seen on `bridge` (tcpdump -e): source MAC and IPv6 source, per line. */
function capture (lab: Lab, bridge: string): { proc: ChildProcess; raw: () => string; lines: () => Array<{ mac: string; src: string; dst: string }> } {
  let out = ''
  const proc = lab.server.spawn('tcpdump', ['-i', bridge, '-n', '-e', '-l', '-Q', 'out', 'icmp6 and ip6[40] == 134'])
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
  return {
    proc,
    raw: () => out,
    lines: () => out.split('\n').flatMap(l => {
      const m = /^\S+ ([0-9a-f:]{17}) > \S+, .*: (\S+) > (\S+): ICMP6, router advertisement/.exec(l)
      return m === null ? [] : [{ mac: m[1] as string, src: m[2] as string, dst: (m[3] as string).replace(/:$/, '') }]
    })
  }
}

async function rdisc6 (c: Netns & { ifname: string }): Promise<{ code: number | null; out: string }> {
  // -1: stop at the first answer; -r 2 -w 1500: two solicitations, 1.5 s apart at most.
  const r = await c.run('rdisc6', ['-1', '-r', '2', '-w', '1500', c.ifname], { timeoutMs: 10_000 })
  return { code: r.code, out: r.stdout + r.stderr }
}

t.test('router solicitations: answered with an empty advertisement, off means off, silent beside another router', async t => {
  if (!requireOrSkip(t, why)) return
  const lab = await dhcpLab(t, [
    { name: 'ra', bridge: 'br-ra', cidr: '10.91.0.1/24' },
    { name: 'quiet', bridge: 'br-quiet', cidr: '10.92.0.1/24', extra: '    ipv6RouterAnswer: off\n' }
  ])
  const c1 = await lab.client('ra1', 'br-ra', '52:54:00:d6:00:01')
  const c2 = await lab.client('quiet1', 'br-quiet', '52:54:00:d6:00:02')
  await linkLocal(lab.server, 'br-ra')
  await linkLocal(lab.server, 'br-quiet')
  await linkLocal(c1, c1.ifname)
  await linkLocal(c2, c2.ifname)
  const brMac = (await lab.server.run('cat', ['/sys/class/net/br-ra/address'])).stdout.trim()
  const onRa = capture(lab, 'br-ra')
  const onQuiet = capture(lab, 'br-quiet')
  await new Promise(resolve => setTimeout(resolve, 500))
  const d = await lab.start()
  await d.waitLog(l => l.msg?.startsWith('answering IPv6 router solicitations') === true && l.lan === 'ra')

  await t.test('auto: rdisc6 gets lifetime 0, no prefix, M and O off, from rackboot', async t => {
    const started = Date.now()
    const r = await rdisc6(c1)
    const ms = Date.now() - started
    t.equal(r.code, 0, r.out)
    t.match(r.out, /Router lifetime\s*:\s*0 \(0x0+\) seconds/)
    t.match(r.out, /Stateful address conf\.\s*:\s*No/)
    t.match(r.out, /Stateful other conf\.\s*:\s*No/)
    t.notMatch(r.out, /Prefix\s*:/, 'no prefix information')
    t.match(r.out, new RegExp(`Source link-layer address: ${brMac.toUpperCase()}`, 'i'))
    t.ok(ms < 4_000, `answered in ${ms} ms (the first solicitation's answer, after the ${550} ms listen)`)
    t.ok(await labMetric(lab, /rackboot_ipv6_router_answers_total\{lan="ra"\} (\d+)/) >= 1)
    await new Promise(resolve => setTimeout(resolve, 300))
    t.ok(onRa.lines().some(l => l.mac === brMac), `the capture shows rackboot's advertisement: ${onRa.raw()}`)
  })

  await t.test('off: no answer, nothing sent', async t => {
    const r = await rdisc6(c2)
    t.not(r.code, 0, 'rdisc6 got no advertisement')
    t.match(r.out, /No response/i)
    t.same(onQuiet.lines(), [], 'nothing advertised on the quiet LAN')
  })

  await t.test('another router advertises: rackboot goes silent', async t => {
    const router = await lab.client('radvd', 'br-ra', '52:54:00:d6:00:99')
    const routerLl = await linkLocal(router, router.ifname)
    await router.run('sysctl', ['-w', 'net.ipv6.conf.all.forwarding=1'])
    const conf = join(lab.dir, 'radvd.conf')
    writeFileSync(conf, `interface ${router.ifname} {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 4;\n  prefix fd00:91::/64 { };\n};\n`)
    const radvd = router.spawn('radvd', ['-n', '-C', conf, '-p', join(lab.dir, 'radvd.pid'), '-m', 'stderr'])
    let radvdErr = ''
    radvd.stderr?.setEncoding('utf8').on('data', (s: string) => { radvdErr += s })
    const heard = await d.waitLog(l => l.msg?.startsWith('another IPv6 router advertises on LAN ra') === true, 15_000).catch(() => null)
    t.ok(heard, `rackboot heard radvd (${radvdErr.trim()})`)
    t.equal(heard?.router, routerLl, 'the router it names is radvd\'s link-local address')
    const events = lab.db(db => db.prepare("SELECT lan, detail FROM events WHERE type = 'ipv6.router-heard'").all() as Array<{ lan: string; detail: string }>)
    t.equal(events.length, 1)
    t.equal(events[0]?.lan, 'ra')
    const sentBefore = await labMetric(lab, /rackboot_ipv6_router_answers_total\{lan="ra"\} (\d+)/)
    const seenBefore = onRa.lines().filter(l => l.mac === brMac).length
    // wait past a second so the per-address limit would not be what keeps it quiet
    await new Promise(resolve => setTimeout(resolve, 1_200))
    const r = await rdisc6(c1)
    t.equal(r.code, 0, r.out)
    t.match(r.out, /Prefix\s*:\s*fd00:91::\/64/, 'the client got radvd\'s advertisement')
    await new Promise(resolve => setTimeout(resolve, 1_000))
    t.equal(await labMetric(lab, /rackboot_ipv6_router_answers_total\{lan="ra"\} (\d+)/), sentBefore, 'no answer sent')
    t.ok(await labMetric(lab, /rackboot_ipv6_solicitations_total\{lan="ra",outcome="silent"\} (\d+)/) >= 1, 'the solicitation was counted as silenced')
    t.equal(onRa.lines().filter(l => l.mac === brMac).length, seenBefore, 'the capture shows no advertisement from rackboot after radvd was heard')
    t.equal(d.logs().filter(l => l.msg?.startsWith('another IPv6 router advertises') === true).length, 1, 'logged once')
    radvd.kill('SIGTERM')
  })
  onRa.proc.kill('SIGTERM')
  onQuiet.proc.kill('SIGTERM')
})
