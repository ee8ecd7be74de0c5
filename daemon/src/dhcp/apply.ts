// Carrying out a decision's lease effects: what decide() says is written to the ledger
// (durable) and then to the address book (memory), in that order, so that the book never
// holds what the ledger refused. The service and the tests of decide() use this one function.
import { tryParseIPv4 } from '@rackboot/wire'
import type { AddressBook, LeaseRec } from './address-book.js'
import type { Decision, LeaseWrite, Observation } from './decide.js'

export interface Ledger {
  /** Makes a bind, decline or release durable; returns what the address book holds from now on. */
  record (lan: string, w: LeaseWrite, now: number): LeaseRec | null
  /** DHCP saw a registered machine: its architecture and UUID. */
  observe (o: Observation, now: number): void
}

/** The lease effects of `d`; events and the reply itself are the caller's. */
export function applyDecision (d: Decision, lan: string, book: AddressBook, ledger: Ledger, now: number): void {
  switch (d.kind) {
    case 'drop':
      // The client chose another server: the address we offered is free again.
      if (d.reason === 'other-server' && d.client !== undefined) book.unoffer(d.client)
      return
    case 'update': {
      const rec = ledger.record(lan, d.lease, now)
      if (rec !== null) book.put(rec)
      return
    }
    case 'reply': {
      if (d.lease !== null) {
        if (d.lease.op === 'offer') {
          const ip = tryParseIPv4(d.lease.ip)
          if (ip !== null) book.offer(ip, d.lease.key, d.lease.expiresAt)
        } else {
          const rec = ledger.record(lan, d.lease, now)
          if (rec !== null) book.put(rec)
        }
      }
      if (d.observe !== null) ledger.observe(d.observe, now)
    }
  }
}

/** The record a write leaves, as any ledger stores it. */
export function recordOf (w: LeaseWrite, machineId: number | null, now: number): LeaseRec | null {
  const ip = tryParseIPv4(w.ip)
  if (ip === null || w.op === 'offer') return null
  if (w.op === 'release') return { ip, mac: w.mac, key: w.key, state: 'released', expiresAt: now, machineId }
  return { ip, mac: w.mac, key: w.key, state: w.op === 'bind' ? 'bound' : 'declined', expiresAt: w.expiresAt, machineId }
}

/** A ledger that keeps nothing durable (tests of decide()): the records as a durable one returns them. */
export const memoryLedger: Ledger = {
  record: (_lan, w, now) => recordOf(w, w.machineId, now),
  observe: () => {}
}
