// archCanBoot: option 93 (what the firmware said) against an image's architecture.
import t from 'tap'
import { archCanBoot, archName } from '../src/arch.js'

const CASES: Array<[string, string, string | null, boolean]> = [
  ['never seen by DHCP', 'x86_64', null, true],
  ['x86 BIOS (0) boots x86_64', 'x86_64', '0', true],
  ['EFI x86-64 (7)', 'x86_64', '7', true],
  ['EFI x86-64 as some firmware sends it (9)', 'x86_64', '9', true],
  ['x86-64 UEFI HTTP boot (16)', 'x86_64', '16', true],
  ['EFI arm64 (11) cannot boot x86_64', 'x86_64', '11', false],
  ['arm64 UEFI HTTP (19) cannot boot x86_64', 'x86_64', '19', false],
  ['EFI arm64 (11) boots arm64', 'arm64', '11', true],
  ['x86 BIOS (0) cannot boot arm64', 'arm64', '0', false],
  ['EFI x86-64 (7) cannot boot arm64', 'arm64', '7', false],
  ['an architecture nobody maps (e.g. 2, Itanium) is not refused', 'x86_64', '2', true],
  ['an image architecture rackboot does not know is not refused', 'riscv64', '7', true],
  ['a recorded value that is not a number is not refused', 'x86_64', 'bios', true]
]
for (const [name, image, client, want] of CASES) t.equal(archCanBoot(image, client), want, name)

t.equal(archName(11), 'arm64')
t.equal(archName(0), 'x86_64')
t.equal(archName(2), 'unknown (option 93 = 2)')
