#!/usr/bin/env bash
# Builds rackboot's Kubernetes-ready node image into images/debian-node/build/ (not committed):
#   node.raw.zst    a raw GPT disk image (BIOS boot, EFI system and ext4 root partitions; GRUB for
#                   BIOS and UEFI), zstd-compressed; the root file system grows to the disk on first boot
#   installer-vmlinuz, installer-initrd.img
#                   the installer rackboot netboots machines into (installer/rackboot-install)
#   localboot.efi   a GRUB that starts the disk's EFI/BOOT/BOOTX64.EFI (rackboot chains it on UEFI machines
#                   that are to boot their disk)
#   manifest.json   what was built: SHA-256 and size of the compressed and the raw image, the
#                   Debian suite, the Kubernetes version it carries (or null), the build's steps
#   SHA256SUMS
#
#   images/debian-node/build.sh            # build, or say it is up to date
#   images/debian-node/build.sh --force    # rebuild even when up to date
#
# Environment:
#   K8S_DIR=dir      kubeadm, kubelet, kubectl and cri-tools (no registry these machines reach
#                    has them): .deb files, or static binaries kubeadm, kubelet, kubectl, crictl.
#                    Without it the image carries no Kubernetes binaries, and the build says so.
#   DEBIAN_MIRROR    default http://deb.debian.org/debian (security: …/debian-security)
#   RACKBOOT_NODE_CACHE  where downloaded .debs are kept between builds (default
#                    /var/cache/rackboot-node); the build never needs it to be there
#   DISK_SIZE        raw image size, default 1536M (about 1 GiB is used; the root grows to the
#                    machine's disk on its first boot)
#
# Root only (mmdebstrap in root mode). Host packages: mmdebstrap, fdisk (sfdisk), e2fsprogs,
# dosfstools, mtools, grub-pc-bin, grub-efi-amd64-bin, grub-common (grub-mkimage), zstd.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/build
FORCE=
for a in "$@"; do
  case "$a" in
    --force|-f) FORCE=1 ;;
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "debian-node: unknown argument '$a' (try --help)" >&2; exit 2 ;;
  esac
done

SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}
DISK_SIZE=${DISK_SIZE:-1536M}
CACHE=${RACKBOOT_NODE_CACHE:-/var/cache/rackboot-node}
PACKAGES=(
  linux-image-amd64 initramfs-tools systemd systemd-sysv systemd-resolved udev dbus kmod
  containerd runc containernetworking-plugins conntrack socat ethtool iptables ebtables iproute2
  cloud-init cloud-guest-utils openssh-server chrony curl ca-certificates
  e2fsprogs zstd less procps iputils-ping sudo busybox
)

START=$(date +%s.%N)
STEPS=()
log () { printf 'debian-node: %s\n' "$*" >&2; }
die () { printf 'debian-node: error: %s\n' "$*" >&2; exit 1; }
now () { date +%s.%N; }
since () { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }
STEP_AT=
step () { # step "name": ends the previous step (printing its time) and starts the next
  if [ -n "$STEP_AT" ]; then
    local took; took=$(since "$STEP_AT")
    log "  ... ${STEP_NAME} took ${took} s"
    STEPS+=("{\"step\":\"${STEP_NAME}\",\"seconds\":${took}}")
  fi
  STEP_NAME=${1:-}; STEP_AT=$(now)
  [ -z "$STEP_NAME" ] || log "$STEP_NAME"
}

[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap builds the tree as root); run it with sudo"
missing=()
for c in mmdebstrap:mmdebstrap sfdisk:fdisk mkfs.ext4:e2fsprogs mkfs.vfat:dosfstools mcopy:mtools grub-mkimage:grub-common zstd:zstd sha256sum:coreutils; do
  command -v "${c%%:*}" >/dev/null || missing+=("${c##*:}")
done
[ -d /usr/lib/grub/i386-pc ] || missing+=(grub-pc-bin)
[ -d /usr/lib/grub/x86_64-efi ] || missing+=(grub-efi-amd64-bin)
if [ "${#missing[@]}" -gt 0 ]; then
  die "missing host packages: apt-get install ${missing[*]}"
fi

# Kubernetes binaries: .debs or static binaries from K8S_DIR, or none (loudly).
K8S_DEBS=()
K8S_BINS=()
if [ -n "${K8S_DIR:-}" ]; then
  [ -d "$K8S_DIR" ] || die "K8S_DIR=$K8S_DIR is not a directory"
  while IFS= read -r f; do K8S_DEBS+=("$f"); done < <(find "$K8S_DIR" -maxdepth 1 -name '*.deb' | sort)
  for b in kubeadm kubelet kubectl crictl; do [ -x "$K8S_DIR/$b" ] && K8S_BINS+=("$K8S_DIR/$b"); done
  [ "${#K8S_DEBS[@]}" -gt 0 ] || [ "${#K8S_BINS[@]}" -gt 0 ] || die "K8S_DIR=$K8S_DIR has no .deb files and no kubeadm/kubelet/kubectl/crictl binaries"
fi
INPUTS=$( { sha256sum "${BASH_SOURCE[0]}" "$HERE/customize.sh" "$HERE"/installer/*; printf '%s\n' "$SUITE" "$MIRROR" "$DISK_SIZE" "${PACKAGES[@]}"; [ -z "${K8S_DIR:-}" ] || sha256sum "${K8S_DEBS[@]}" "${K8S_BINS[@]}"; } | sha256sum | cut -c1-64)
if [ -z "$FORCE" ] && [ -f "$OUT/manifest.json" ] && grep -q "\"inputs\": \"$INPUTS\"" "$OUT/manifest.json" && [ -f "$OUT/node.raw.zst" ]; then
  log "up to date: $OUT/node.raw.zst (--force to rebuild)"
  exit 0
fi
if [ -z "${K8S_DIR:-}" ]; then
  log "************************************************************************************"
  log "* K8S_DIR is not set: this image carries NO kubeadm, kubelet, kubectl or crictl.  *"
  log "* It boots and is ready for them, but it cannot join a cluster until they are added.*"
  log "************************************************************************************"
fi

mkdir -p "$OUT" "$CACHE"
exec 9>"$OUT/.lock"; flock 9
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
cleanup () { rm -rf "$WORK"; }
trap cleanup EXIT

# ------------------------------------------------------------------------------------------
step "mmdebstrap $SUITE with ${#PACKAGES[@]} packages (downloads cached in $CACHE)"
K8S_HOOK=()
if [ "${#K8S_DEBS[@]}" -gt 0 ]; then
  mkdir -p "$WORK/k8s"; cp "${K8S_DEBS[@]}" "$WORK/k8s/"
  K8S_HOOK=(--customize-hook="mkdir -p \"\$1/tmp/k8s\" && cp $WORK/k8s/*.deb \"\$1/tmp/k8s/\" && chroot \"\$1\" sh -c 'apt-get install -y --no-install-recommends /tmp/k8s/*.deb' && rm -rf \"\$1/tmp/k8s\"")
fi
mmdebstrap --variant=apt --format=directory --mode=root \
  --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --skip=essential/unlink \
  --setup-hook="mkdir -p \"\$1/var/cache/apt/archives\" && cp -a $CACHE/. \"\$1/var/cache/apt/archives/\" 2>/dev/null || true" \
  "${K8S_HOOK[@]}" \
  --customize-hook="cp -a \"\$1/var/cache/apt/archives/.\" $CACHE/ && rm -f $CACHE/lock && rm -rf $CACHE/partial" \
  --customize-hook="$HERE/customize.sh \"\$1\"" \
  "$SUITE" "$WORK/root" \
  "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY $SUITE-security main" >&2

K8S_VERSION=null
if [ "${#K8S_BINS[@]}" -gt 0 ]; then
  step "Kubernetes binaries from $K8S_DIR: ${K8S_BINS[*]##*/}"
  for b in "${K8S_BINS[@]}"; do install -m 0755 "$b" "$WORK/root/usr/bin/"; done
  "$HERE/customize.sh" --kubelet-unit "$WORK/root"
fi
if [ -x "$WORK/root/usr/bin/kubeadm" ]; then
  v=$(chroot "$WORK/root" /usr/bin/kubeadm version -o short 2>/dev/null || true)
  [ -n "$v" ] || die "kubeadm from K8S_DIR does not run in the image (kubeadm version failed)"
  K8S_VERSION="\"$v\""
  log "Kubernetes $v"
fi
[ "$(du -sm "$WORK/root/boot" | cut -f1)" -gt 0 ] && ls "$WORK/root/boot"/vmlinuz-* >/dev/null 2>&1 || die "no kernel in the image"

# ------------------------------------------------------------------------------------------
# The installer rackboot netboots machines into: the image's own kernel and an initramfs made
# by the image's initramfs-tools with rackboot's hook and boot script (boot=rackboot-install),
# so its udev gives /dev/disk/by-… names and its drivers match the installed system's. It is
# built inside the tree, copied out, and removed again: the installed disk does not carry it.
step "installer: the image's kernel and an initramfs with rackboot-install"
R=$WORK/root
KVER=$(basename "$(ls -1 "$R/boot"/vmlinuz-* | sort -V | tail -1)" | sed 's/^vmlinuz-//')
IC=$R/etc/initramfs-tools-rackboot
cp -a "$R/etc/initramfs-tools" "$IC"
sed -i 's/^MODULES=.*/MODULES=most/; s/^BUSYBOX=.*/BUSYBOX=y/' "$IC/initramfs.conf"
grep -q '^BUSYBOX=y' "$IC/initramfs.conf" || echo 'BUSYBOX=y' >> "$IC/initramfs.conf"
mkdir -p "$IC/hooks" "$IC/scripts"
install -m 0755 "$HERE/installer/hook" "$IC/hooks/rackboot-installer"
install -m 0644 "$HERE/installer/boot-script" "$IC/scripts/rackboot-install"
install -m 0755 "$HERE/installer/rackboot-install" "$R/usr/sbin/rackboot-install"
chroot "$R" mkinitramfs -d /etc/initramfs-tools-rackboot -o /tmp/rackboot-installer.img "$KVER" >&2
install -m 0644 "$R/tmp/rackboot-installer.img" "$WORK/installer-initrd.img"
install -m 0644 "$R/boot/vmlinuz-$KVER" "$WORK/installer-vmlinuz"
rm -rf "$IC" "$R/tmp/rackboot-installer.img" "$R/usr/sbin/rackboot-install"

# ------------------------------------------------------------------------------------------
# The disk is assembled in a plain file, without loop devices or mounts (some kernels, like
# this project's CI sandboxes, give loop devices no partitions): mkfs.ext4 -d fills the root
# file system at its partition's offset, mtools fills the EFI system partition, and GRUB's
# BIOS stage is written into the MBR and the BIOS boot partition as grub-bios-setup would.
step "partitioning a $DISK_SIZE GPT disk: BIOS boot, EFI system, root"
RAW=$WORK/node.raw
truncate -s "$DISK_SIZE" "$RAW"
BIOS_START=2048 BIOS_SECTORS=2048 EFI_START=4096 EFI_SECTORS=126976 ROOT_START=131072
printf '%s\n' \
  "start=$BIOS_START, size=$BIOS_SECTORS, type=21686148-6449-6E6F-744E-656564454649, name=bios" \
  "start=$EFI_START, size=$EFI_SECTORS, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=efi" \
  "start=$ROOT_START, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root" | sfdisk --quiet --label gpt "$RAW"
ROOT_SECTORS=$(sfdisk --dump "$RAW" | awk -v s="$ROOT_START" '$0 ~ "start= *"s"," { sub(/.*size= */, ""); sub(/,.*/, ""); print }')
[ -n "$ROOT_SECTORS" ] || die "cannot read the root partition's size back from the GPT"
ROOT_UUID=$(cat /proc/sys/kernel/random/uuid)
EFI_ID=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
EFI_UUID=$(printf '%s-%s' "${EFI_ID:0:4}" "${EFI_ID:4:4}" | tr a-f A-F)

step "boot loader files (GRUB for BIOS and UEFI, finding the root by its UUID)"
mkdir -p "$R/boot/grub" "$R/boot/efi"
cp -a /usr/lib/grub/i386-pc /usr/lib/grub/x86_64-efi "$R/boot/grub/"
{
  echo "# rackboot debian-node: written by images/debian-node/build.sh (no update-grub in the image)"
  echo "insmod all_video"
  echo "serial --unit=0 --speed=115200"
  echo "terminal_input console serial"
  echo "terminal_output console serial"
  echo "set timeout=1"
  echo "menuentry 'Debian node' {"
  echo "  insmod gzio"
  echo "  linux /boot/vmlinuz-$KVER root=UUID=$ROOT_UUID ro console=tty0 console=ttyS0,115200n8"
  echo "  initrd /boot/initrd.img-$KVER"
  echo "}"
} > "$R/boot/grub/grub.cfg"
printf 'search --no-floppy --fs-uuid --set=root %s\nset prefix=($root)/boot/grub\n' "$ROOT_UUID" > "$WORK/early.cfg"
MODS='part_gpt ext2 search search_fs_uuid configfile normal linux echo test'
grub-mkimage -O i386-pc -o "$WORK/core.img" -c "$WORK/early.cfg" -p /boot/grub biosdisk $MODS
grub-mkimage -O x86_64-efi -o "$WORK/BOOTX64.EFI" -c "$WORK/early.cfg" -p /boot/grub fat $MODS
# localboot.efi: what rackboot chains on a UEFI machine that is to boot its disk. iPXE's `exit`
# does not get there on every firmware (OVMF, with Debian's iPXE, stops in its boot manager):
# this GRUB finds the EFI system partition holding EFI/BOOT/BOOTX64.EFI on the machine's disks
# and starts it. Not tied to this image: any OS with the removable-media boot path boots.
cat > "$WORK/localboot.cfg" <<'CFG'
search --no-floppy --file --set=root /EFI/BOOT/BOOTX64.EFI
echo "rackboot localboot: starting ($root)/EFI/BOOT/BOOTX64.EFI"
chainloader /EFI/BOOT/BOOTX64.EFI
boot
echo "rackboot localboot: no disk has an EFI system partition with /EFI/BOOT/BOOTX64.EFI; back to the firmware in 30 s"
sleep 30
exit
CFG
# The embedded config runs in GRUB's rescue parser (no `if`): each line in turn, a failed one
# falls through to the message.
grub-mkimage -O x86_64-efi -o "$WORK/localboot.efi" -c "$WORK/localboot.cfg" -p /EFI/BOOT part_gpt part_msdos fat search search_fs_file chain echo sleep minicmd
CORE_SECTORS=$(( ($(stat -c %s "$WORK/core.img") + 511) / 512 ))
[ "$CORE_SECTORS" -le "$BIOS_SECTORS" ] || die "GRUB's core.img ($CORE_SECTORS sectors) does not fit the BIOS boot partition"
printf 'UUID=%s  /          ext4  errors=remount-ro  0 1\nUUID=%s   /boot/efi  vfat  umask=0077,nofail  0 2\n' "$ROOT_UUID" "$EFI_UUID" > "$R/etc/fstab"

le64 () { local v=$1 i; for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $(( (v >> (8 * i)) & 255 )))"; done; }
le16 () { printf "\\x$(printf %02x $(( $1 & 255 )))\\x$(printf %02x $(( ($1 >> 8) & 255 )))"; }
poke () { dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
# MBR: boot.img's code, keeping the disk's BPB area and its (protective) partition table.
BOOT=$WORK/boot.img
dd if=/usr/lib/grub/i386-pc/boot.img of="$BOOT" bs=512 count=1 status=none
dd if="$RAW" of="$BOOT" bs=1 skip=3 seek=3 count=87 conv=notrunc status=none
dd if="$RAW" of="$BOOT" bs=1 skip=440 seek=440 count=72 conv=notrunc status=none
le64 "$BIOS_START" | poke "$BOOT" $((0x5c))   # where core.img starts
printf '\xff' | poke "$BOOT" $((0x64))        # boot drive: the one the BIOS booted from
printf '\x90\x90' | poke "$BOOT" $((0x66))    # no floppy probe (a hard disk)
# core.img's first sector (diskboot) loads the rest: its blocklist names the sectors after it.
le64 $((BIOS_START + 1)) | poke "$WORK/core.img" $((0x200 - 12))
le16 $((CORE_SECTORS - 1)) | poke "$WORK/core.img" $((0x200 - 4))
le16 $((0x820)) | poke "$WORK/core.img" $((0x200 - 2))
dd if="$BOOT" of="$RAW" bs=512 count=1 conv=notrunc status=none
dd if="$WORK/core.img" of="$RAW" bs=512 seek="$BIOS_START" conv=notrunc status=none

step "EFI system partition (FAT32, EFI/BOOT/BOOTX64.EFI)"
ESP=$WORK/esp.img
mkfs.vfat -F 32 -n EFI -i "$EFI_ID" -C "$ESP" $((EFI_SECTORS / 2)) >/dev/null
mmd -i "$ESP" ::/EFI ::/EFI/BOOT
mcopy -i "$ESP" "$WORK/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
dd if="$ESP" of="$RAW" bs=512 seek="$EFI_START" conv=notrunc status=none

step "root file system (ext4, $((ROOT_SECTORS / 2048)) MiB) from the tree"
# Everything but the contents of proc/ sys/ dev/ run/ tmp/ (the directories stay: mount points).
for d in proc sys dev run tmp; do
  [ -d "$R/$d" ] && find "$R/$d" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
done
mkfs.ext4 -q -F -L root -U "$ROOT_UUID" -d "$R" -E offset=$((ROOT_START * 512)) "$RAW" "$((ROOT_SECTORS / 2))k"

step "compressing (zstd) and checksumming"
RAW_SIZE=$(stat -c %s "$RAW")
RAW_SHA=$(sha256sum "$RAW" | cut -c1-64)
zstd -q -T0 -6 --force "$RAW" -o "$WORK/node.raw.zst"
ZST_SHA=$(sha256sum "$WORK/node.raw.zst" | cut -c1-64)
ZST_SIZE=$(stat -c %s "$WORK/node.raw.zst")
step
mv -f "$WORK/node.raw.zst" "$OUT/node.raw.zst"
mv -f "$WORK/installer-vmlinuz" "$WORK/installer-initrd.img" "$WORK/localboot.efi" "$OUT/"
INST_K_SHA=$(sha256sum "$OUT/installer-vmlinuz" | cut -c1-64)
INST_I_SHA=$(sha256sum "$OUT/installer-initrd.img" | cut -c1-64)
LOCALBOOT_SHA=$(sha256sum "$OUT/localboot.efi" | cut -c1-64)
TOTAL=$(since "$START")
cat > "$OUT/manifest.json" <<EOF
{
  "name": "debian-node",
  "kind": "disk",
  "arch": "x86_64",
  "debian": "$SUITE",
  "kernel": "$KVER",
  "kubernetes": $K8S_VERSION,
  "installer": { "kernel": { "file": "installer-vmlinuz", "sha256": "$INST_K_SHA" }, "initrd": { "file": "installer-initrd.img", "sha256": "$INST_I_SHA" } },
  "localboot": { "file": "localboot.efi", "sha256": "$LOCALBOOT_SHA" },
  "disk": { "file": "node.raw.zst", "compression": "zstd", "size": $ZST_SIZE, "sha256": "$ZST_SHA", "rawSize": $RAW_SIZE, "rawSha256": "$RAW_SHA" },
  "rootUuid": "$ROOT_UUID",
  "inputs": "$INPUTS",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "steps": [$(IFS=,; echo "${STEPS[*]}")],
  "seconds": $TOTAL
}
EOF
(cd "$OUT" && sha256sum node.raw.zst installer-vmlinuz installer-initrd.img localboot.efi > SHA256SUMS)
log "built $OUT/node.raw.zst: $((ZST_SIZE / 1048576)) MiB compressed, $((RAW_SIZE / 1048576)) MiB raw, kernel $KVER, Kubernetes ${K8S_VERSION//\"/}, in $TOTAL s"
