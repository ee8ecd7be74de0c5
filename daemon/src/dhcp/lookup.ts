// decide()'s view of one LAN: the address book (leases and offers in memory) at one instant,
// plus how machines and reservations are found. The service backs `machine` and `reserved`
// with SQLite; tests with plain functions.
import { formatIPv4, tryParseIPv4 } from '@rackboot/wire'
import type { AddressBook } from './address-book.js'
import type { Lookup, MachineView } from './decide.js'

export function bookLookup (book: AddressBook, now: number, machine: (mac: string) => MachineView | null, reserved: (ip: number) => boolean, discoverFull: () => boolean = () => false, bmc?: Lookup['bmc']): Lookup {
  return {
    machine,
    ...(bmc === undefined ? {} : { bmc }),
    discoverFull,
    lease: (key) => {
      const r = book.leaseOf(key)
      return r === undefined ? null : { ip: formatIPv4(r.ip), state: r.state, expiresAt: r.expiresAt }
    },
    offered: (key) => { const ip = book.offerOf(key, now); return ip === null ? null : formatIPv4(ip) },
    holder: (ip) => { const n = tryParseIPv4(ip); return n === null ? null : book.holder(n, now) },
    freeFor: (ip, key) => { const n = tryParseIPv4(ip); return n !== null && book.freeFor(n, key, now, reserved) },
    allocate: (key, preferred) => {
      const ip = book.allocate(key, now, preferred.map(p => p == null ? null : tryParseIPv4(p)), reserved)
      return ip === null ? null : formatIPv4(ip)
    },
    hasPool: () => book.lan.pool !== null
  }
}
