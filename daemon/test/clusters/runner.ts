// The node-side runner (Python 3, as the installed OS runs it from cloud-init): it reports the
// files it received with their SHA-256, then "kubeadm missing", or kubeadm's outcome with the
// failing line and the last lines of its output, and applies the MetalLB manifests after a
// successful init. Run here with a stand-in `kubeadm` (a shell script) on PATH.
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { RUNNER_SCRIPT } from '../../src/clusters/material.js'
import { tempDir } from '../helpers/build.js'

async function runRunner (t: Test, kubeadm: string | null, kubectl: string | null = null) {
  const dir = tempDir(t)
  const reports: Array<Record<string, any>> = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', c => { body += String(c) })
    req.on('end', () => { reports.push(JSON.parse(body)); res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}') })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  if (kubeadm !== null) { writeFileSync(join(bin, 'kubeadm'), kubeadm); chmodSync(join(bin, 'kubeadm'), 0o755) }
  if (kubectl !== null) { writeFileSync(join(bin, 'kubectl'), kubectl); chmodSync(join(bin, 'kubectl'), 0o755) }
  const cfgFile = join(dir, 'kubeadm.yaml')
  writeFileSync(cfgFile, 'kind: InitConfiguration\n')
  const manifests = join(dir, 'metallb.yaml')
  writeFileSync(manifests, 'kind: IPAddressPool\n')
  const config = join(dir, 'kubeadm.json')
  writeFileSync(config, JSON.stringify({ cluster: 'c', role: 'init', command: ['kubeadm', 'init', '--config', cfgFile], after: [], apply: kubectl === null ? [] : [manifests], report: `http://127.0.0.1:${(server.address() as AddressInfo).port}/boot/kubeadm/T`, files: [cfgFile, join(dir, 'absent')] }))
  const runner = join(dir, 'rackboot-kubeadm')
  writeFileSync(runner, RUNNER_SCRIPT, { mode: 0o700 })
  const code = await new Promise<number | null>(resolve => {
    execFile('python3', [runner], { env: { PATH: `${bin}:/usr/bin:/bin`, RACKBOOT_KUBEADM_CONFIG: config } }, err => resolve(err === null ? 0 : (err as { code?: number }).code ?? 1))
  })
  return { code, reports, sha: createHash('sha256').update('kind: InitConfiguration\n').digest('hex'), cfgFile }
}

t.test('no kubeadm: "kubeadm missing", with the files received', async t => {
  const r = await runRunner(t, null)
  t.equal(r.code, 1)
  t.equal(r.reports.length, 1)
  t.match(r.reports[0], { outcome: 'failed', step: 'kubeadm missing' })
  t.same(r.reports[0]?.files, [{ path: r.cfgFile, sha256: r.sha }, { path: r.cfgFile.replace('kubeadm.yaml', 'absent'), sha256: null }], 'each file\'s SHA-256, null for one not there')
})

t.test('kubeadm fails: the failing line and the last lines', async t => {
  const r = await runRunner(t, '#!/bin/sh\necho "[init] Using Kubernetes version: v1.31.4"\necho "error execution phase preflight: [preflight] Some fatal errors occurred"\nexit 1\n')
  t.equal(r.code, 1)
  t.same(r.reports.map(x => x.outcome), ['running', 'failed'])
  t.equal(r.reports[1]?.step, 'error execution phase preflight: [preflight] Some fatal errors occurred')
  t.match(r.reports[1]?.output, /Using Kubernetes version/)
})

t.test('kubeadm succeeds, and the manifests are applied', async t => {
  const r = await runRunner(t, '#!/bin/sh\necho "Your Kubernetes control-plane has initialized successfully!"\n', '#!/bin/sh\necho "ipaddresspool.metallb.io/rackboot-svc created"\n')
  t.equal(r.code, 0)
  t.same(r.reports.map(x => x.outcome), ['running', 'succeeded'])
  t.match(r.reports[1]?.step, /^kubeadm init succeeded; .*metallb\.yaml applied$/)
  t.match(r.reports[1]?.output, /initialized successfully/)
})
