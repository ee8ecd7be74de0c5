// The rackboot CLI against a real daemon process.
import t from 'tap'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { cli, freePort, LANS, MAIN, ROOT, serve, tempDir, writeConfig } from '../helpers/daemon.js'

t.test('check-config reports every problem as file:line: key: message', async t => {
  const dir = tempDir(t)
  const good = writeConfig(dir, 9080, LANS)
  let r = await cli(['check-config', '--config', good])
  t.equal(r.code, 0)
  t.equal(r.stdout, `${good}: ok, 1 LAN: prov (br-prov, 10.77.0.0/24)\n`)
  const bad = join(dir, 'bad.yaml')
  writeFileSync(bad, 'api:\n  listen: 127.0.0.1:9080\nlans:\n  - name: a\n    interface: br0\n    subnet: 10.1.0.0/24\n    address: 10.2.0.1\n    pool: 10.1.0.10-10.1.0.5\n')
  r = await cli(['check-config', '--config', bad])
  t.equal(r.code, 1)
  t.equal(r.stderr, `${bad}:7: lans[0].address: 10.2.0.1 is not a host address in the subnet 10.1.0.0/24\n${bad}:8: lans[0].pool: 10.1.0.10-10.1.0.5 ends before it starts\n`)
  r = await cli(['check-config'])
  t.equal(r.code, 0, 'the embedded default is valid')
  // a valid config whose boot files are missing on this host: the host check fails it
  const noIpxe = join(dir, 'no-ipxe.yaml')
  writeFileSync(noIpxe, readFileSync(good, 'utf8').replace(/ipxeDir: [^ }]+/, `ipxeDir: ${join(dir, 'nothing-here')}`))
  r = await cli(['check-config', '--config', noIpxe])
  t.equal(r.code, 1)
  t.match(r.stderr, `${noIpxe}: boot.files.bios: undionly.kpxe is not in ${join(dir, 'nothing-here')}: BIOS PXE machines cannot netboot\n`)
  r = await cli(['check-config', '--file-only', '--config', noIpxe])
  t.equal(r.code, 0, '--file-only leaves the host out (the systemd unit\'s pre-check)')
  r = await cli(['check-config', '--bogus'])
  t.equal(r.code, 2)
  t.match(r.stderr, /^rackboot: unknown option '--bogus'/)
  r = await cli(['frobnicate'])
  t.equal(r.code, 2)
  t.match(r.stderr, /^rackboot: unknown command 'frobnicate'/)
  r = await cli([])
  t.equal(r.code, 2, 'no command: usage on stderr, exit 2')
  t.match(r.stderr, /^Usage: rackboot \[options\] \[command\]/)
})

t.test('--help on any command succeeds; --version prints the version (issue 12)', async t => {
  for (const args of [['--help'], ['help'], ['machines', '--help'], ['machines', 'add', '--help'], ['help', 'machines'], ['token', 'create', '-h'], ['events', '--help']]) {
    const r = await cli(args)
    t.equal(r.code, 0, args.join(' '))
    t.match(r.stdout, /^Usage: rackboot /, `${args.join(' ')}: usage on stdout`)
    t.equal(r.stderr, '')
  }
  const r = await cli(['--version'])
  t.same([r.code, r.stdout], [0, `${JSON.parse(readFileSync(join(ROOT, 'daemon/package.json'), 'utf8')).version}\n`])
  const m = await cli(['machines'])
  t.equal(m.code, 2, 'a command without its subcommand is a usage error')
  t.match(m.stderr, /Usage: rackboot machines/)
  const add = await cli(['machines', 'add', '--mac', '52:54:00:00:00:01'])
  t.same([add.code, add.stderr], [2, 'rackboot: machines add needs --hostname, --lan\n(add --help for usage)\n'])
})

t.test('serve refuses a bad config before opening any socket or database', async t => {
  const dir = tempDir(t)
  const port = await freePort()
  const file = join(dir, 'bad.yaml')
  writeFileSync(file, `dataDir: ${join(dir, 'var')}\napi: { listen: 127.0.0.1:${port} }\nlans:\n  - name: a\n    interface: br0\n    subnet: 10.1.0.0/24\n    address: 10.1.0.1\n    leaseTime: forever\n`)
  const r = await cli(['serve', '--config', file])
  t.equal(r.code, 1)
  t.match(r.stderr, `${file}:8: lans[0].leaseTime: "forever" is not a duration`)
  t.match(r.stderr, /1 problem in the config; not starting/)
  t.notOk(existsSync(join(dir, 'var')), 'the data directory was never created')
})

t.test('tokens and the API client commands against a running daemon', async t => {
  const dir = tempDir(t)
  const port = await freePort()
  const file = writeConfig(dir, port, LANS)
  let r = await cli(['token', 'create', '--name', 'admin', '--config', file])
  t.equal(r.code, 0)
  t.match(r.stdout, /^rbt_[A-Za-z0-9_-]{43}\n$/, 'only the token on stdout')
  const token = r.stdout.trim()
  const ro = (await cli(['token', 'create', '--name', 'viewer', '--read-only', '--config', file])).stdout.trim()
  r = await cli(['token', 'create', '--name', 'admin', '--config', file])
  t.equal(r.code, 1)
  t.match(r.stderr, /RB_TOKEN_EXISTS/)

  const d = await serve(t, file, port)
  const env = { RACKBOOT_API: d.url, RACKBOOT_TOKEN: token }

  r = await cli(['machines', 'add', '--hostname', 'node-1', '--mac', '52-54-00-00-00-01', '--mac', '5254.0000.0002', '--lan', 'prov', '--ip', '10.77.0.10', '--role', 'worker', '--label', 'rack=r1', '--json'], env)
  t.equal(r.code, 0, r.stderr)
  const m = JSON.parse(r.stdout)
  t.match(m, { hostname: 'node-1', macs: ['52:54:00:00:00:01', '52:54:00:00:00:02'], ipv4: '10.77.0.10', labels: { rack: 'r1' } })

  r = await cli(['machines', 'add', '--hostname', 'node-2', '--mac', '52:54:00:00:00:01', '--lan', 'prov'], env)
  t.equal(r.code, 1)
  t.equal(r.stderr, `rackboot: RB_CONFLICT_MAC: macs[0] 52:54:00:00:00:01 already belongs to machine ${m.id} (node-1)\n`)

  const csv = join(dir, 'm.csv')
  writeFileSync(csv, 'hostname,mac,lan,ip\nnode-2,52:54:00:00:00:03,prov,10.77.0.11\nnode-3,52:54:00:00:00:04,prov,\n')
  r = await cli(['machines', 'import', csv], env)
  t.same([r.code, r.stdout], [0, 'imported 2 machines\n'])
  writeFileSync(csv, 'hostname,mac,lan,ip\nnode-4,52:54:00:00:00:05,prov,10.77.0.120\nnode-5,zz,prov,\n')
  r = await cli(['machines', 'import', csv], env)
  t.equal(r.code, 1)
  t.equal(r.stderr, 'rackboot: RB_IMPORT_INVALID: 2 problems in 2 of 2 rows; nothing was imported\n' +
    '  row 1 (line 2): ipv4 10.77.0.120 is inside LAN prov\'s dynamic pool 10.77.0.100-10.77.0.150; reserve an address outside it\n' +
    '  row 2 (line 3): macs[0] "zz" is not a MAC address (aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or aabbccddeeff)\n')

  r = await cli(['machines', 'list'], env)
  t.equal(r.code, 0)
  const lines = r.stdout.trim().split('\n')
  t.match(lines[0], /^ID\s+HOSTNAME\s+LAN\s+IPV4\s+MACS\s+STATE/)
  t.equal(lines.length, 4, 'header and three machines')
  r = await cli(['machines', 'list', '--json', '--label', 'rack=r1'], env)
  t.same(JSON.parse(r.stdout).map((x: { hostname: string }) => x.hostname), ['node-1'])

  r = await cli(['machines', 'show', '52:54:00:00:00:02'], env)
  t.match(r.stdout, /^id\s+\d+\nhostname\s+node-1\n/)
  r = await cli(['machines', 'set', 'node-3', '--image', 'testos', '--no-netboot', '--json'], env)
  t.match(JSON.parse(r.stdout), { hostname: 'node-3', image: 'testos', netboot: false })
  r = await cli(['machines', 'set', 'node-3', '--image', '', '--json'], env)
  t.equal(JSON.parse(r.stdout).image, null, 'an empty value clears a field')
  r = await cli(['machines', 'rm', 'node-3'], env)
  t.match(r.stdout, /^removed machine \d+\n$/)
  r = await cli(['machines', 'show', 'node-3'], env)
  t.same([r.code, r.stderr], [1, 'rackboot: RB_NOT_FOUND: no machine with hostname node-3\n'])

  r = await cli(['lans', '--json'], env)
  t.match(JSON.parse(r.stdout), [{ name: 'prov', reservations: 2, machines: 2 }])
  r = await cli(['leases', '--json'], env)
  t.same(JSON.parse(r.stdout), [])

  r = await cli(['events', '--json'], env)
  const types = r.stdout.trim().split('\n').map(l => JSON.parse(l).type)
  t.same(types, ['token.created', 'token.created', 'machine.created', 'machine.created', 'machine.created', 'machines.imported', 'machine.updated', 'machine.updated', 'machine.deleted'])

  // events --follow prints new events as they happen
  const follow = spawn(process.execPath, [MAIN, 'events', '--follow', '--json', '--type', 'machine.created'], { env: { ...process.env, ...env } })
  let out = ''
  const gotTwo = new Promise<void>(resolve => follow.stdout.on('data', d => { out += String(d); if (out.trim().split('\n').length >= 4) resolve() }))
  const followExit = new Promise(resolve => follow.on('exit', (code) => resolve(code)))
  await new Promise(resolve => setTimeout(resolve, 500))
  await cli(['machines', 'add', '--hostname', 'node-9', '--mac', '52:54:00:00:00:09', '--lan', 'prov'], env)
  await gotTwo
  follow.kill('SIGINT')
  t.equal(await followExit, 0, 'follow exits cleanly on SIGINT')
  const followed = out.trim().split('\n').map(l => JSON.parse(l))
  t.same(followed.map(e => e.detail.hostname), ['node-1', 'node-2', 'node-3', 'node-9'], 'backlog, then the live event')

  // read-only and revoked tokens
  r = await cli(['machines', 'rm', 'node-9'], { ...env, RACKBOOT_TOKEN: ro })
  t.equal(r.code, 1)
  t.match(r.stderr, /^rackboot: RB_AUTH_READ_ONLY: token "viewer" is read-only/)
  r = await cli(['token', 'list', '--json', '--config', file])
  const listed = JSON.parse(r.stdout)
  t.same(listed.map((x: { name: string; readOnly: boolean }) => [x.name, x.readOnly]), [['admin', false], ['viewer', true]])
  t.notOk(r.stdout.includes(token) || r.stdout.includes(ro), 'token list never shows secrets')
  t.ok(listed[0].lastUsedAt !== null, 'last use is recorded')
  r = await cli(['token', 'revoke', 'viewer', '--config', file])
  t.same([r.code, r.stdout], [0, 'revoked viewer\n'])
  r = await cli(['machines', 'list'], { ...env, RACKBOOT_TOKEN: ro })
  t.match(r.stderr, /RB_AUTH_INVALID/)
  r = await cli(['machines', 'list'], { ...env, RACKBOOT_TOKEN: '' })
  t.match(r.stderr, /RB_AUTH_MISSING/)
  r = await cli(['machines', 'list', '--api', 'http://127.0.0.1:1'], env)
  t.match(r.stderr, /cannot reach the rackboot API at http:\/\/127\.0\.0\.1:1/)

  const logs = JSON.stringify(d.logs())
  t.notOk(logs.includes(token) || logs.includes(ro), 'no token in the daemon log')
})
