import t from 'tap'
import { decodeValue, tryDecodeValue } from '@rackboot/wire'
import {
  vendorSubOptionsValue, ipxeSubOptionsValue, relayAgentSubOptionsValue, subOptionsCodec, PxeSubOption,
  PxeDiscoveryControl, IpxeSubOption, RelayAgentSubOption
} from '../src/sub-options.js'
import { testCodec, hex } from './helpers/round-trip.js'

t.test('PXE option 43: discovery control, End-terminated', async t => {
  const v = new Map([[PxeSubOption.DiscoveryControl, Uint8Array.of(PxeDiscoveryControl.UseBootFile)]])
  const bytes = testCodec(t, vendorSubOptionsValue, v)
  t.same([...bytes], [6, 1, 8, 255])
  t.same(decodeValue(vendorSubOptionsValue, hex('00 060108 ff 0000')), v, 'Pad skipped, padding after End ignored')
  t.same(decodeValue(vendorSubOptionsValue, hex('060108')), v, 'missing End tolerated')
  testCodec(t, vendorSubOptionsValue, new Map(), new Map(), 'empty')
})

t.test('iPXE option 175: no-proxyDHCP-wait and feature flags', async t => {
  const v = new Map([[IpxeSubOption.NoPxeDhcp, Uint8Array.of(1)], [IpxeSubOption.FeatureHttp, Uint8Array.of(1)]])
  const bytes = testCodec(t, ipxeSubOptionsValue, v)
  t.same([...bytes], [176, 1, 1, 19, 1, 1], 'no End for 175')
  t.equal(IpxeSubOption.NoPxeDhcp, 176)
})

t.test('option 82 sub-options: no Pad/End, so 0 and 255 are ordinary codes', async t => {
  const v = new Map([[RelayAgentSubOption.CircuitId, Uint8Array.of(0x41)], [0, Uint8Array.of(1)], [255, Uint8Array.of(2)]])
  testCodec(t, relayAgentSubOptionsValue, v)
  t.same(decodeValue(relayAgentSubOptionsValue, hex('0001ff ff0102')), new Map([[0, Uint8Array.of(0xff)], [255, Uint8Array.of(2)]]))
})

t.test('repeats concatenate; long values split', async t => {
  t.same(decodeValue(ipxeSubOptionsValue, hex('bd0161 0101ff bd0162')), new Map([[189, Uint8Array.of(0x61, 0x62)], [1, Uint8Array.of(0xff)]]))
  const long = new Map([[190, new Uint8Array(300).fill(7)]])
  const bytes = testCodec(t, ipxeSubOptionsValue, long)
  t.equal(bytes.length, 304)
  testCodec(t, ipxeSubOptionsValue, new Map([[8, new Uint8Array(0)]]), new Map([[8, new Uint8Array(0)]]), 'empty value')
})

t.test('malformed sub-options read as absent', async t => {
  for (const b of ['06', '0605 01', '01']) {
    t.equal(tryDecodeValue(vendorSubOptionsValue, hex(b)), undefined, b)
    t.equal(tryDecodeValue(relayAgentSubOptionsValue, hex(b)), undefined, b)
  }
  const custom = subOptionsCodec({ padEnd: false, terminate: true })
  t.same([...new Uint8Array(custom.encodingLength(new Map()))], [0])
})
