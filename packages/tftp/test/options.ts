import t from 'tap'
import { blksizeForMtu, defaultNegotiationLimits, negotiate, type Negotiated } from '../src/options.js'
import type { TftpOption } from '../src/packet.js'

const o = (spec: string): TftpOption[] =>
  spec === '' ? [] : spec.split(' ').map((kv) => { const [name = '', value = ''] = kv.split('='); return { name, value } })
const oackText = (n: Negotiated): string => n.oack.map((x) => `${x.name}=${x.value}`).join(' ')

interface Case { name: string, request: string, size?: number, limits?: { maxBlksize: number, maxWindowsize: number }, oack: string, blksize?: number, windowsize?: number, timeout?: number }

const cases: Case[] = [
  { name: 'no options: no OACK, RFC 1350 defaults', request: '', oack: '', blksize: 512, windowsize: 1 },
  { name: 'tsize 0 is answered with the real size', request: 'tsize=0', size: 123456, oack: 'tsize=123456' },
  { name: 'tsize of an empty file', request: 'tsize=0', size: 0, oack: 'tsize=0' },
  { name: 'names are case-insensitive, spelling is echoed', request: 'TSize=0 BLKSIZE=1024 WindowSize=8 TIMEOUT=3', size: 7, oack: 'TSize=7 BLKSIZE=1024 WindowSize=8 TIMEOUT=3', blksize: 1024, windowsize: 8, timeout: 3 },
  { name: 'values keep request order', request: 'blksize=1400 tsize=0', size: 1, oack: 'blksize=1400 tsize=1', blksize: 1400 },
  { name: 'unknown options are ignored', request: 'multicast= rollover=0 utimeout=1000', oack: '', blksize: 512 },
  { name: 'unknown options beside known ones', request: 'foo=bar blksize=1024', oack: 'blksize=1024', blksize: 1024 },
  { name: 'blksize clamped to the configured maximum', request: 'blksize=65464', oack: 'blksize=1468', blksize: 1468 },
  { name: 'blksize above the RFC maximum is clamped too', request: 'blksize=99999', oack: 'blksize=1468', blksize: 1468 },
  { name: 'blksize 8 is the RFC minimum', request: 'blksize=8', oack: 'blksize=8', blksize: 8 },
  { name: 'blksize below 8 is ignored', request: 'blksize=7', oack: '', blksize: 512 },
  { name: 'blksize not a number is ignored', request: 'blksize=1k', oack: '', blksize: 512 },
  { name: 'blksize with a sign is ignored', request: 'blksize=+512', oack: '', blksize: 512 },
  { name: 'blksize empty is ignored', request: 'blksize=', oack: '', blksize: 512 },
  { name: 'a larger configured blksize maximum (jumbo frames)', request: 'blksize=8192', limits: { maxBlksize: blksizeForMtu(9000), maxWindowsize: 64 }, oack: 'blksize=8192', blksize: 8192 },
  { name: 'configured maximum above the RFC maximum is capped', request: 'blksize=65464', limits: { maxBlksize: 100000, maxWindowsize: 64 }, oack: 'blksize=65464', blksize: 65464 },
  { name: 'windowsize clamped to the configured maximum', request: 'windowsize=65535', oack: 'windowsize=64', windowsize: 64 },
  { name: 'windowsize 1', request: 'windowsize=1', oack: 'windowsize=1', windowsize: 1 },
  { name: 'windowsize 0 is ignored', request: 'windowsize=0', oack: '', windowsize: 1 },
  { name: 'windowsize above 65535 is ignored', request: 'windowsize=65536', oack: '', windowsize: 1 },
  { name: 'windowing disabled by configuration answers 1', request: 'windowsize=16', limits: { maxBlksize: 1468, maxWindowsize: 1 }, oack: 'windowsize=1', windowsize: 1 },
  { name: 'timeout 1..255 accepted as is', request: 'timeout=255', oack: 'timeout=255', timeout: 255 },
  { name: 'timeout 0 is ignored', request: 'timeout=0', oack: '' },
  { name: 'timeout 256 is ignored', request: 'timeout=256', oack: '' },
  { name: 'a repeated option: the first wins', request: 'blksize=1024 BLKSIZE=512', oack: 'blksize=1024', blksize: 1024 },
  { name: 'OVMF UEFI PXE probe: tsize only', request: 'tsize=0', size: 1048576, oack: 'tsize=1048576', blksize: 512 },
  { name: 'iPXE style request', request: 'blksize=1432 tsize=0', size: 1000, oack: 'blksize=1432 tsize=1000', blksize: 1432 }
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const n = negotiate(o(c.request), c.size ?? 100, c.limits ?? defaultNegotiationLimits)
    t.equal(oackText(n), c.oack, 'OACK options')
    if (c.blksize !== undefined) t.equal(n.blksize, c.blksize, 'blksize')
    if (c.windowsize !== undefined) t.equal(n.windowsize, c.windowsize, 'windowsize')
    t.equal(n.timeout, c.timeout, 'timeout')
  })
}

t.test('blksizeForMtu', async (t) => {
  t.equal(blksizeForMtu(1500), 1468)
  t.equal(blksizeForMtu(576), 544)
  t.equal(blksizeForMtu(9000), 8968)
  t.equal(blksizeForMtu(20), 8, 'never below the RFC minimum')
  t.equal(blksizeForMtu(200000), 65464, 'never above the RFC maximum')
})
