// Which images a machine's firmware can boot: the client architecture it sent in DHCP option 93
// (RFC 4578 §2.1 and IANA's "Processor Architecture Types" registry) against an image's arch.

/** Option 93 values by the image architecture that can run on them. */
const BOOTS: Readonly<Record<string, ReadonlySet<number>>> = {
  // x86 BIOS (0), EFI IA32 (6), EFI x86-64 (7, and 9 as some firmware sends it), x86 and x86-64
  // UEFI HTTP boot (15, 16). A server that PXE-boots in BIOS mode runs 64-bit code all the same.
  x86_64: new Set([0, 6, 7, 9, 15, 16]),
  // ARM 64-bit UEFI (11) and its HTTP boot (19).
  arm64: new Set([11, 19])
}

/** The image architectures a firmware architecture can boot, for messages. */
export function archName (clientArch: number): string {
  for (const [arch, codes] of Object.entries(BOOTS)) if (codes.has(clientArch)) return arch
  return `unknown (option 93 = ${clientArch})`
}

/**
 * Whether a machine whose firmware reported `clientArch` (the numeric option 93 value, as the
 * inventory records it; null when never seen) can boot an image for `imageArch`. Unknown
 * machines and architectures are not refused: only a known mismatch is.
 */
export function archCanBoot (imageArch: string, clientArch: string | null): boolean {
  if (clientArch === null || !/^\d+$/.test(clientArch)) return true
  const codes = BOOTS[imageArch]
  if (codes === undefined) return true
  const n = Number(clientArch)
  return codes.has(n) || !Object.values(BOOTS).some(c => c.has(n))
}

/** Whether option 93 says x86-64 UEFI (7, 9; 16: UEFI HTTP boot). */
export function isX64Efi (clientArch: string | null): boolean {
  return clientArch !== null && ['7', '9', '16'].includes(clientArch)
}

/** Whether option 93 names any UEFI firmware (everything but x86 BIOS, 0). */
export function isUefi (clientArch: string | null): boolean {
  return clientArch !== null && /^\d+$/.test(clientArch) && clientArch !== '0'
}
