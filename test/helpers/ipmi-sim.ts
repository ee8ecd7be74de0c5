// A real BMC simulator for the tests: OpenIPMI's ipmi_sim (Debian openipmi) in a network
// namespace of its own, with a chassis_control hook that keeps the power state and boot
// device in files and logs every call. `onPower` lets a test act when the power changes (start
// or stop a VM).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { createNetns, type Netns, type Owner } from '../../bench/netns.js'

export interface IpmiSim {
  ns: Netns
  address: string
  user: string
  password: string
  dir: string
  /** Runs the real ipmitool inside the namespace (a wrapper script for IpmiTarget.ipmitool). */
  ipmitool: string
  /** The hook's calls so far, one per line: `get power`, `set power 1`, `set boot pxe`. */
  calls: () => string[]
  power: () => string
  boot: () => string
}

export function ipmiSimUnavailable (): string | null {
  for (const cmd of ['ipmi_sim', 'ipmitool']) {
    if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) return `${cmd} is not installed (apt-get install openipmi ipmitool)`
  }
  return null
}

export async function ipmiSim (t: Owner, dir: string, o: { password?: string; hook?: string } = {}): Promise<IpmiSim> {
  const ns = await createNetns(t, 'bmc')
  const address = '127.0.0.1' // the namespace's own loopback: nothing leaves it
  const user = 'admin'
  const password = o.password ?? 'Bmc-pass-7e1d'
  mkdirSync(join(dir, 'state'), { recursive: true })
  const hook = join(dir, 'chassis-control')
  // The hook ipmi_sim runs: `<hook> <device> get power|boot …` prints `power:0|1`, `boot:…`;
  // `<hook> <device> set power 1|0 | reset 1 | boot pxe|default|…` changes them.
  writeFileSync(hook, `#!/bin/sh
d=${dir}
dev=$1; op=$2; shift 2
echo "$op $*" >> $d/calls
case $op in
  get) for p in "$@"; do case $p in power) echo "power:$(cat $d/power 2>/dev/null || echo 0)";; boot) echo "boot:$(cat $d/boot 2>/dev/null || echo default)";; esac; done ;;
  set) while [ $# -gt 1 ]; do case $1 in power) echo $2 > $d/power; ${o.hook ?? 'true'} "$2";; boot) echo $2 > $d/boot;; reset) ;; esac; shift 2; done ;;
  *) exit 1 ;;
esac
`)
  chmodSync(hook, 0o755)
  writeFileSync(join(dir, 'lan.conf'), `name "rackboot-test"
set_working_mc 0x20
  startlan 1
    addr ${address} 623
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "${hook} node"
  user 1 false "" "unused" user 10 none md2 md5 straight
  user 2 true "${user}" "${password}" admin 10 none md2 md5 straight
`)
  writeFileSync(join(dir, 'bmc.emu'), 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 0x09 0x08 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\nmc_enable 0x20\n')
  ns.spawn('ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'bmc.emu'), '-s', join(dir, 'state'), '-n'], { stdio: ['ignore', 'ignore', 'ignore'] })
  // Up once it answers at all (an unknown user is refused by a running BMC; no password needed).
  for (let i = 0; i < 50; i++) {
    const r = await ns.run('ipmitool', ['-v', '-I', 'lanplus', '-H', address, '-U', 'probe', '-P', 'x', '-C', '3', '-N', '1', '-R', '1', 'mc', 'info'], { timeoutMs: 10_000 })
    if (/unauthorized name/i.test(r.stderr + r.stdout)) break
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  // ipmitool as the daemon runs it, but inside the namespace (its environment passes through).
  const wrapper = join(dir, 'ipmitool')
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns.name} ipmitool "$@"\n`)
  chmodSync(wrapper, 0o755)
  const read = (f: string, dflt: string) => existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').trim() : dflt
  return {
    ns, address, user, password, dir, ipmitool: wrapper,
    calls: () => read('calls', '').split('\n').filter(l => l !== ''),
    power: () => read('power', '0'),
    boot: () => read('boot', 'default')
  }
}
