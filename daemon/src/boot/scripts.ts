// iPXE scripts, rendered per machine. Pure: the server decides which one and supplies values.
import type { DiskFile, Image } from './images.js'
import { render, type TemplateValues } from './template.js'

export const RETRY_SECONDS = 10

const header = (comment: string) => `#!ipxe\n# rackboot: ${comment}\n`
const retry = (bootUrl: string, mac: string) => `sleep ${RETRY_SECONDS}\nchain --replace --autofree ${bootUrl}/boot/ipxe?mac=${mac}\n`

/**
 * kernel/initrd/boot lines for `image` with the machine's rendered command line; `args` go
 * before the image's own (the installer's parameters for a disk image).
 */
export function netbootScript (image: Image, values: TemplateValues, args = ''): string {
  if (image.kernel === null) throw new Error(`image ${image.name} has no kernel`)
  const base = `${values.boot_url}/images/${image.name}`
  // iPXE on EFI hands the kernel its initrds by name: `initrd=<name>` on the command line.
  const initrdArgs = image.initrds.map(f => `initrd=${f.name}`).join(' ')
  const cmdline = [initrdArgs, args, render(image.cmdline, values)].filter(s => s !== '').join(' ')
  const what = image.kind === 'disk' ? `installs image ${image.name} onto its disk` : `boots image ${image.name}`
  return header(`${values.hostname} (${values.mac}) ${what}`) +
    `echo rackboot: ${values.hostname} ${what}\n` +
    `kernel ${base}/${image.kernel.name} ${cmdline}\n` +
    image.initrds.map(f => `initrd ${base}/${f.name}\n`).join('') +
    'boot || goto failed\n' +
    ':failed\n' +
    `echo rackboot: boot failed, retrying in ${RETRY_SECONDS} s\n` +
    retry(values.boot_url, values.mac)
}

/**
 * The installer's kernel parameters (images/debian-node/installer/rackboot-install): where to
 * report and fetch the image (both carry the install token), the image's sizes and SHA-256s,
 * the machine's installDisk.
 */
export function installerArgs (disk: DiskFile, o: { installUrl: string; installDisk: string | null }): string {
  return [
    'boot=rackboot-install', 'ip=dhcp', 'console=tty0', 'console=ttyS0,115200n8',
    `rackboot.report=${o.installUrl}`, `rackboot.image=${o.installUrl}/image`,
    `rackboot.size=${disk.size}`, `rackboot.sha256=${disk.sha256}`,
    `rackboot.raw_size=${disk.rawSize}`, `rackboot.raw_sha256=${disk.rawSha256}`,
    ...(o.installDisk === null ? [] : [`rackboot.disk=${o.installDisk}`])
  ].join(' ')
}

/**
 * Leave iPXE with a failure status so that the firmware tries its next boot device (the local
 * disk). UEFI needs the non-zero status: a plain `exit` is EFI_SUCCESS, after which the boot
 * manager stops trying boot options and shows its menu (seen with OVMF; Dell and Lenovo servers
 * do the same). BIOS ignores the status.
 */
const LEAVE = 'exit 1\n'

/** Boot from the local disk: leave iPXE so the firmware tries the next boot device. */
export function diskScript (hostname: string, why: string): string {
  return header(`${hostname}: ${why}`) + `echo rackboot: ${hostname} ${why}: booting from disk\n${LEAVE}`
}

/** Boot from the local disk through the image's localboot EFI program; if it cannot be fetched, leave iPXE as diskScript does. */
export function localbootScript (hostname: string, why: string, url: string): string {
  return header(`${hostname}: ${why}`) + `echo rackboot: ${hostname} ${why}: booting from disk\nchain --autofree ${url} || ${LEAVE}`
}

/** Wait at the prompt and ask again: an operator may assign an image (or fix one) meanwhile. */
export function waitScript (bootUrl: string, mac: string, why: string): string {
  return header(why) + `echo rackboot: ${mac}: ${why}; asking again in ${RETRY_SECONDS} s\n` + retry(bootUrl, mac)
}

export function unknownScript (mac: string): string {
  return header(`unknown machine ${mac}`) + `echo rackboot: ${mac} is not in the inventory: booting from disk\n${LEAVE}`
}
