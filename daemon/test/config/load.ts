import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseConfig, loadConfig, DEFAULT_CONFIG_FILE } from '../../src/config/load.js'
import { ConfigError } from '../../src/config/errors.js'
import { schemaJson, SCHEMA_FILE } from '../../src/gen-docs.js'

/** The problems parseConfig reports for `yaml`, formatted as the daemon prints them. */
function problems (yaml: string): string[] {
  try {
    parseConfig(yaml, 'rb.yaml')
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n')
    throw err
  }
  return []
}

const lan = (extra: string, name = 'prov', iface = 'br0', subnet = '10.77.0.0/24', address = '10.77.0.1') => `
  - name: ${name}
    interface: ${iface}
    subnet: ${subnet}
    address: ${address}${extra}`

t.test('the embedded default starts no LAN and keeps the API on loopback', async t => {
  const loaded = loadConfig(DEFAULT_CONFIG_FILE)
  t.equal(loaded.lans.size, 0)
  t.equal(loaded.config.api.listen, '127.0.0.1:9080')
  t.match(loaded.config.dataDir, /\/var$/)
  t.equal(loaded.config.boot.tftp, '0.0.0.0:69', 'schema default')
  t.ok(Object.isFrozen(loaded.config.api), 'frozen')
})

t.test('the example colo config is valid', async t => {
  const loaded = loadConfig(fileURLToPath(new URL('../../../config/rackboot.example.yaml', import.meta.url)))
  t.same([...loaded.lans.keys()], ['prov', 'bmc', 'rack2'])
  t.equal(loaded.lans.get('rack2')?.config.relay, true)
  t.equal(loaded.lans.get('prov')?.leaseSeconds, 12 * 3600)
})

t.test('config/rackboot.schema.json is generated from the schema and current', async t => {
  t.equal(readFileSync(SCHEMA_FILE, 'utf8'), schemaJson(), 'run `pnpm gen:docs` and commit the result')
})

t.test('YAML syntax errors name the line', async t => {
  t.match(problems('lans:\n  - name: a\n   bad: [\n'), [/^rb\.yaml:\d+: \(root\): YAML: /])
  t.match(problems('dataDir: a\ndataDir: b\n'), [/^rb\.yaml:2: \(root\): YAML: Map keys must be unique/])
})

t.test('unknown keys are caught with a suggestion', async t => {
  t.same(problems('api:\n  lisen: 127.0.0.1:1\n'), ['rb.yaml:2: api.lisen: is not a known key (did you mean "listen"?); allowed: listen, bodyLimit'])
  t.same(problems(`lans:${lan('\n    leaseTme: 1h')}\n`), ['rb.yaml:6: lans[0].leaseTme: is not a known key (did you mean "leaseTime"?); allowed: name, mode, interface, relay, subnet, address, gateway, dns, domain, domainSearch, ntp, mtu, pool, reserved, routes, options, leaseTime, renewalTime, rebindingTime, nextServer, management, provisionWithBmc, ipv6RouterAnswer, installStreams, leaseIdentity, unknownMachines, maxDiscovered'])
})

t.test('wrong types and formats name the key and the value', async t => {
  t.same(problems('api: { listen: 9080 }\n'), ['rb.yaml:1: api.listen: must be a string, not number 9080'])
  t.same(problems(`lans:${lan('\n    unknownMachines: allow')}\n`), ['rb.yaml:6: lans[0].unknownMachines: must be one of "ignore", "discover", "lease", not "allow"'])
  t.same(problems(`lans:${lan('', 'prov', 'br0', '10.77.0.0/33')}\n`), ['rb.yaml:4: lans[0].subnet: "10.77.0.0/33" is not a subnet in CIDR notation (e.g. 10.77.0.0/24)'])
  t.same(problems(`lans:${lan('\n    dns: [10.77.0.256]')}\n`), ['rb.yaml:6: lans[0].dns[0]: "10.77.0.256" is not an IPv4 address'])
  t.same(problems(`lans:${lan('\n    leaseTime: 1 hour')}\n`), ['rb.yaml:6: lans[0].leaseTime: "1 hour" is not a duration such as 3600, 90s, 30m, 1h or 7d'])
  t.same(problems('lans:\n  - name: prov\n'), [
    'rb.yaml:2: lans[0].subnet: is required',
    'rb.yaml:2: lans[0].address: is required'
  ])
  t.same(problems('- a\n'), ['rb.yaml:1: (root): the file must be a mapping of keys (dataDir, api, boot, lans), not a list'])
})

t.test('semantic checks, each with file:line: key', async t => {
  t.same(problems(`lans:${lan('')}${lan('', 'prov', 'br1', '10.78.0.0/24', '10.78.0.1')}\n`),
    ['rb.yaml:6: lans[1].name: duplicate LAN name "prov" (also lans[0].name)'], 'duplicate LAN names')
  t.same(problems(`lans:${lan('')}${lan('', 'bmc', 'br1', '10.77.0.128/25', '10.77.0.129')}\n`),
    ['rb.yaml:8: lans[1].subnet: 10.77.0.128/25 overlaps lans[0].subnet 10.77.0.0/24 (prov)'], 'overlapping subnets')
  t.same(problems(`lans:${lan('')}${lan('', 'bmc', 'br0', '10.78.0.0/24', '10.78.0.1')}\n`),
    ['rb.yaml:7: lans[1].interface: interface br0 is already used by lans[0] (prov)'], 'interface given twice')
  t.same(problems(`lans:${lan('\n    pool: 10.77.0.100-10.77.1.10')}\n`),
    ['rb.yaml:6: lans[0].pool: 10.77.0.100-10.77.1.10 is not inside the host addresses of the subnet 10.77.0.0/24'], 'pool outside the subnet')
  t.same(problems(`lans:${lan('\n    gateway: 10.99.0.1')}\n`),
    ['rb.yaml:6: lans[0].gateway: 10.99.0.1 is not a host address in the subnet 10.77.0.0/24'], 'gateway outside the subnet')
  t.same(problems(`lans:${lan('', 'prov', 'br0', '10.77.0.0/24', '10.77.1.1')}\n`),
    ['rb.yaml:5: lans[0].address: 10.77.1.1 is not a host address in the subnet 10.77.0.0/24'], 'address outside the subnet')
  t.same(problems(`lans:${lan('\n    reserved: [10.77.0.1-10.77.0.20]\n    pool: 10.77.0.10-10.77.0.50')}\n`),
    ['rb.yaml:7: lans[0].pool: 10.77.0.10-10.77.0.50 overlaps the reserved range lans[0].reserved[0] (10.77.0.1-10.77.0.20)'], 'pool overlapping a reserved range')
  t.same(problems(`lans:${lan('\n    pool: 10.77.0.1-10.77.0.50')}\n`),
    ['rb.yaml:6: lans[0].pool: 10.77.0.1-10.77.0.50 contains this host\'s address 10.77.0.1'], 'pool containing the server')
  t.same(problems(`lans:${lan('\n    pool: 10.77.0.50-10.77.0.10')}\n`), ['rb.yaml:6: lans[0].pool: 10.77.0.50-10.77.0.10 ends before it starts'])
  t.same(problems(`lans:${lan('', 'prov', 'br0', '10.77.0.5/24')}\n`), ['rb.yaml:4: lans[0].subnet: 10.77.0.5/24 has host bits set; did you mean 10.77.0.0/24?'])
  t.same(problems('lans:\n  - name: r\n    subnet: 10.9.0.0/24\n    address: 10.1.0.1\n'),
    ['rb.yaml:2: lans[0].interface: is required (or set `relay: true` for a LAN reached through a DHCP relay)',
      'rb.yaml:4: lans[0].address: 10.1.0.1 is not a host address in the subnet 10.9.0.0/24'])
  t.same(problems('lans:\n  - name: r\n    relay: true\n    subnet: 10.9.0.0/24\n    address: 10.9.0.1\n'), [
    'rb.yaml:2: lans[0].gateway: is required on a relayed LAN (the relay\'s address in the subnet, used as the router)',
    'rb.yaml:5: lans[0].address: 10.9.0.1 is inside the relayed subnet 10.9.0.0/24; on a relayed LAN it is this host\'s address that the relay forwards to'
  ])
  t.same(problems('api: { listen: 127.0.0.1:70000 }\n'), ['rb.yaml:1: api.listen: port 70000 is out of range (0-65535)'])
})

t.test('every problem is reported, not only the first', async t => {
  const all = problems(`api: { lisen: x }\nlans:${lan('\n    pool: 10.77.0.50-10.77.0.10')}${lan('', 'prov', 'br0', '10.77.0.0/24', '10.77.0.2')}\n`)
  t.equal(all.length, 1, 'schema errors stop before semantic checks')
  const semantic = problems(`lans:${lan('\n    pool: 10.77.0.50-10.77.0.10')}${lan('', 'prov', 'br0', '10.77.0.0/24', '10.77.0.2')}\n`)
  t.same(semantic, [
    'rb.yaml:6: lans[0].pool: 10.77.0.50-10.77.0.10 ends before it starts',
    'rb.yaml:7: lans[1].name: duplicate LAN name "prov" (also lans[0].name)',
    'rb.yaml:8: lans[1].interface: interface br0 is already used by lans[0] (prov)',
    'rb.yaml:9: lans[1].subnet: 10.77.0.0/24 overlaps lans[0].subnet 10.77.0.0/24 (prov)'
  ])
})

t.test('a missing file is a ConfigError naming it', async t => {
  t.throws(() => loadConfig('/nonexistent/rb.yaml'), { code: 'RB_CONFIG_INVALID', message: /^\/nonexistent\/rb\.yaml: \(root\): cannot read the file: ENOENT/ })
})

t.test('an empty file is the defaults', async t => {
  const loaded = parseConfig('', 'empty.yaml')
  t.equal(loaded.config.api.listen, '127.0.0.1:9080')
  t.same(loaded.config.lans, [])
})

t.test('DHCP options, routes and boot URL templates are checked', async t => {
  t.same(problems(`lans:${lan('\n    options:\n      - { code: 252, text: a, hex: "0a" }\n      - { code: 6, ipv4: [10.77.0.9] }\n      - { code: 250 }')}\n`), [
    'rb.yaml:7: lans[0].options[0]: give exactly one of text, hex, ipv4, u8, u16, u32 (found text, hex)',
    'rb.yaml:8: lans[0].options[1].code: option 6 is set by rackboot itself (use the LAN\'s own keys: gateway, dns, domain, domainSearch, ntp, mtu, routes, leaseTime)',
    'rb.yaml:9: lans[0].options[2]: give exactly one of text, hex, ipv4, u8, u16, u32 (found none)'
  ])
  t.same(problems(`lans:${lan('\n    routes: [{ destination: 10.99.0.0/16, gateway: 10.1.0.1 }]')}\n`),
    ['rb.yaml:6: lans[0].routes[0].gateway: 10.1.0.1 is not a host address in the subnet 10.77.0.0/24'])
  t.same(problems('boot: { ipxeScriptUrl: "http://{address}/boot?m={macaddr}" }\n'),
    ['rb.yaml:1: boot.ipxeScriptUrl: unknown placeholder {macaddr}; allowed: {address}, {httpPort}, {mac}, {arch}'])
  t.same(problems(`lans:${lan('\n    unknownMachines: lease')}\n`), [], 'lease is a policy')
  t.same(problems('dhcp: { offerHold: 2d }\n'), ['rb.yaml:1: dhcp.offerHold: 2d is too long (at most 1d)'])
})
