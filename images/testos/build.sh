#!/usr/bin/env bash
# Builds rackboot's test OS into images/testos/build/: a Debian kernel (build/vmlinuz) and a
# busybox-static initramfs (build/initrd.img) whose /init loads the NIC drivers, runs udhcpc,
# phones home and powers off (see README.md and initramfs/init), plus build/SHA256SUMS.
#
#   images/testos/build.sh            # build, or say it is up to date
#   images/testos/build.sh --force    # rebuild even when up to date
#
# Packages come from this machine's apt sources through `apt-get download` and are unpacked
# with `dpkg -x` into a temporary directory: nothing is installed on the host. Downloaded
# .debs are kept in $RACKBOOT_TESTOS_CACHE (default /var/cache/rackboot-testos when writable,
# else build/debs) and reused. Runs as root or not; needs apt-get, apt-cache, dpkg, cpio (or
# busybox), gzip, sha256sum, and xz/zstd only for kernels with compressed modules.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/build
FORCE=
for a in "$@"; do
  case "$a" in
    --force|-f) FORCE=1 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument '$a' (try --help)" >&2; exit 2 ;;
  esac
done

# The NIC drivers the test VMs use (virtio-net-pci, e1000 on -machine pc, e1000e on q35) and
# their dependencies, which are resolved from each module's own `depends=` entry.
ROOT_MODULES=(virtio_pci virtio_net e1000 e1000e)
KERNEL_META=linux-image-amd64
BUSYBOX_PKG=busybox-static

START=$(date +%s.%N)
log () { printf 'testos: %s\n' "$*" >&2; }
die () { printf 'testos: error: %s\n' "$*" >&2; exit 1; }
elapsed () { awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f s", e - s }'; }

for cmd in apt-get apt-cache dpkg dpkg-deb gzip sha256sum find sort; do
  command -v "$cmd" >/dev/null || die "'$cmd' is not installed (this recipe needs a Debian-like host)"
done
if command -v cpio >/dev/null; then CPIO=(cpio --quiet --reproducible); elif command -v busybox >/dev/null; then CPIO=(busybox cpio); else die "neither cpio nor busybox is installed (apt-get install cpio)"; fi

if [ -n "${RACKBOOT_TESTOS_CACHE:-}" ]; then CACHE=$RACKBOOT_TESTOS_CACHE
elif mkdir -p /var/cache/rackboot-testos 2>/dev/null && [ -w /var/cache/rackboot-testos ]; then CACHE=/var/cache/rackboot-testos
else CACHE=$OUT/debs
fi
mkdir -p "$OUT" "$CACHE"
# One build at a time (two test files may call this at once).
if command -v flock >/dev/null; then exec 9>"$OUT/.lock"; flock 9; fi

# --- which packages ----------------------------------------------------------------------
UPDATED=
apt_update_once () {
  [ -z "$UPDATED" ] || return 1
  [ "$(id -u)" = 0 ] || return 1
  log "apt lists look stale or missing: apt-get update"
  apt-get update -qq >&2 || die "apt-get update failed"
  UPDATED=1
}
candidate () { # prints the candidate version of package $1, or nothing
  apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" { print $2 }'
}
need_candidate () {
  local v
  v=$(candidate "$1")
  if [ -z "$v" ] && apt_update_once; then v=$(candidate "$1"); fi
  [ -n "$v" ] || die "apt has no candidate for '$1' (run 'apt-get update' as root; is a Debian main source configured?)"
  printf '%s' "$v"
}

resolve () { # sets KPKG KVER_DEB BB_VER KDEB BBDEB
  local meta_ver
  meta_ver=$(need_candidate "$KERNEL_META")
  # linux-image-amd64 depends on the versioned image package: linux-image-<abi>-amd64 (= <ver>).
  KPKG= KVER_DEB=
  read -r KPKG KVER_DEB < <(apt-cache show "$KERNEL_META=$meta_ver" | awk -F': ' '$1 == "Depends" { print $2; exit }' \
    | tr ',' '\n' | sed -n 's/^ *\(linux-image-[^ ]*\) *(= *\([^)]*\)).*/\1 \2/p' | head -n1) || true
  [ -n "$KPKG" ] && [ -n "$KVER_DEB" ] || die "cannot tell which kernel package $KERNEL_META $meta_ver depends on"
  BB_VER=$(need_candidate "$BUSYBOX_PKG")
  KDEB=$(deb_name "$KPKG" "$KVER_DEB")
  BBDEB=$(deb_name "$BUSYBOX_PKG" "$BB_VER")
}
deb_name () { printf '%s_%s_amd64.deb' "$1" "${2//:/%3a}"; }
resolve

# --- up to date? ---------------------------------------------------------------------------
STAMP_INPUT=$( { echo "$KDEB $BBDEB ${ROOT_MODULES[*]}"; cat "${BASH_SOURCE[0]}" "$HERE/initramfs/init" "$HERE/initramfs/udhcpc.script"; } | sha256sum | cut -d' ' -f1)
if [ -z "$FORCE" ] && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] && [ -s "$OUT/SHA256SUMS" ] \
   && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$STAMP_INPUT" ] && (cd "$OUT" && sha256sum --quiet -c SHA256SUMS >/dev/null 2>&1); then
  log "up to date: $KPKG $KVER_DEB, $BUSYBOX_PKG $BB_VER (build/SHA256SUMS verified; --force rebuilds)"
  exit 0
fi

# --- download (or reuse) -------------------------------------------------------------------
fetch () { # fetch PKG VERSION FILE [PRUNE-GLOB]: FILE into $CACHE from the cache, apt's archive or apt-get download
  local pkg=$1 ver=$2 file=$3 tmp
  if [ -s "$CACHE/$file" ] && dpkg-deb --info "$CACHE/$file" >/dev/null 2>&1; then
    log "reusing $CACHE/$file"; return 0
  fi
  if [ -s "/var/cache/apt/archives/$file" ] && dpkg-deb --info "/var/cache/apt/archives/$file" >/dev/null 2>&1; then
    log "reusing /var/cache/apt/archives/$file"; cp "/var/cache/apt/archives/$file" "$CACHE/$file"; return 0
  fi
  tmp=$(mktemp -d "$CACHE/.download.XXXXXX")
  chmod 755 "$tmp"   # apt's _apt sandbox user may write here; where it cannot, apt warns and goes on
  log "downloading $pkg=$ver"
  local sandbox=(); [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)   # root: no _apt sandbox warning
  if ! (cd "$tmp" && apt-get download -q "${sandbox[@]}" "$pkg=$ver" 2>&1) >&2 || [ ! -s "$tmp/$file" ]; then
    rm -rf "$tmp"; log "apt-get download $pkg=$ver failed"; return 1
  fi
  mv "$tmp/$file" "$CACHE/$file"
  rm -rf "$tmp"
  # One version per package in the cache.
  find "$CACHE" -maxdepth 1 -name "${4:-${pkg}_*.deb}" ! -name "$file" -print -delete | sed 's/^/testos: removed old /' >&2 || true
}
fetch_all () {
  fetch "$KPKG" "$KVER_DEB" "$KDEB" 'linux-image-*-amd64_*.deb' && fetch "$BUSYBOX_PKG" "$BB_VER" "$BBDEB"
}
if ! fetch_all; then
  # Stale lists name versions the mirror no longer has: update once (as root) and resolve again.
  apt_update_once || die "cannot download the packages (no network, or stale apt lists: run 'apt-get update' as root)"
  resolve
  fetch_all || die "cannot download $KPKG=$KVER_DEB or $BUSYBOX_PKG=$BB_VER even after apt-get update"
fi

# --- unpack ----------------------------------------------------------------------------------
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
log "unpacking $KDEB and $BBDEB (dpkg -x into a temporary directory)"
dpkg -x "$CACHE/$KDEB" "$WORK/kernel"
dpkg -x "$CACHE/$BBDEB" "$WORK/busybox"

KREL=
for d in "$WORK"/kernel/lib/modules/*/; do KREL=$(basename "$d"); done
[ -n "$KREL" ] || die "$KDEB has no lib/modules/<release>"
[ -f "$WORK/kernel/boot/vmlinuz-$KREL" ] || die "$KDEB has no boot/vmlinuz-$KREL"
BB=$WORK/busybox/bin/busybox
[ -x "$BB" ] || die "$BBDEB has no bin/busybox"
MODDIR=$WORK/kernel/lib/modules/$KREL

# --- modules: resolve dependencies, dependency order ----------------------------------------
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,run,tmp,root,lib/modules/"$KREL"}
declare -A MODPATH=()     # module name → path relative to $MODDIR (as shipped, maybe compressed)
while IFS= read -r f; do
  n=${f##*/}; n=${n%%.ko*}; MODPATH[${n//-/_}]=$f
done < <(cd "$MODDIR" && find kernel -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
declare -A BUILTIN=()
if [ -f "$MODDIR/modules.builtin" ]; then
  while IFS= read -r f; do n=${f##*/}; n=${n%%.ko*}; BUILTIN[${n//-/_}]=1; done < "$MODDIR/modules.builtin"
fi

declare -A STATE=()       # name → visiting | done
ORDER=()                  # relative .ko paths, dependencies first
DEPLINES=()               # modules.dep lines
declare -A DEPS_OF=()
add_module () {
  local name=${1//-/_} src rel dst deps d
  [ "${STATE[$name]:-}" = done ] && return
  [ "${STATE[$name]:-}" = visiting ] && die "module dependency cycle at $name"
  if [ -z "${MODPATH[$name]:-}" ]; then
    [ -n "${BUILTIN[$name]:-}" ] && { log "module $name is built into $KREL"; STATE[$name]=done; return; }
    die "kernel $KREL has no module $name (neither loadable nor built in)"
  fi
  STATE[$name]=visiting
  src=${MODPATH[$name]}
  rel=${src%.xz}; rel=${rel%.zst}; rel=${rel%.gz}      # stored uncompressed: busybox insmod reads plain .ko
  dst=$ROOTFS/lib/modules/$KREL/$rel
  mkdir -p "$(dirname "$dst")"
  case "$src" in
    *.ko.xz) xz -dc "$MODDIR/$src" > "$dst" ;;
    *.ko.zst) zstd -qdc "$MODDIR/$src" > "$dst" ;;
    *.ko.gz) gzip -dc "$MODDIR/$src" > "$dst" ;;
    *) cp "$MODDIR/$src" "$dst" ;;
  esac
  if command -v modinfo >/dev/null; then deps=$(modinfo -F depends "$dst" 2>/dev/null || true)
  else deps=$(tr '\0' '\n' < "$dst" | sed -n 's/^depends=//p' | head -n1)   # the .modinfo section
  fi
  DEPS_OF[$name]=
  for d in ${deps//,/ }; do
    add_module "$d"
    d=${d//-/_}
    [ -n "${MODPATH[$d]:-}" ] && DEPS_OF[$name]+=" $(r=${MODPATH[$d]}; r=${r%.xz}; r=${r%.zst}; echo "${r%.gz}")"
  done
  ORDER+=("$rel")
  DEPLINES+=("$rel:${DEPS_OF[$name]}")
  STATE[$name]=done
}
for m in "${ROOT_MODULES[@]}"; do add_module "$m"; done
printf '%s\n' "${ORDER[@]}" > "$ROOTFS/etc/modules.load"
printf '%s\n' "${DEPLINES[@]}" > "$ROOTFS/lib/modules/$KREL/modules.dep"   # so `modprobe` works too
: > "$ROOTFS/lib/modules/$KREL/modules.alias"
log "modules ($KREL, load order): $(for r in "${ORDER[@]}"; do n=${r##*/}; printf '%s ' "${n%.ko}"; done)"

# --- the initramfs ---------------------------------------------------------------------------
cp "$BB" "$ROOTFS/bin/busybox"
ln -s busybox "$ROOTFS/bin/sh"
install -m 755 "$HERE/initramfs/init" "$ROOTFS/init"
install -m 755 "$HERE/initramfs/udhcpc.script" "$ROOTFS/etc/udhcpc.script"
printf 'rackboot-testos kernel=%s busybox=%s\n' "$KVER_DEB" "$BB_VER" > "$ROOTFS/etc/testos-release"
echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOTFS/etc/passwd"
# Fixed timestamps: the same inputs give the same initrd.img.
find "$ROOTFS" -exec touch -h -d @0 {} +

# A newc entry written by hand for /dev/console (a device node needs root to mknod): the
# kernel opens it for init's stdin/stdout/stderr before /init can mount devtmpfs.
newc () { # newc NAME MODE RDEVMAJOR RDEVMINOR: one header + name, no data
  local name=$1 mode=$2 maj=$3 min=$4 namesize hdr pad
  namesize=$(( ${#name} + 1 ))
  hdr=$(printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
    0 "$mode" 0 0 1 0 0 0 0 "$maj" "$min" "$namesize" 0)
  printf '%s%s\0' "$hdr" "$name"
  pad=$(( (4 - (110 + namesize) % 4) % 4 ))
  head -c "$pad" /dev/zero
}
{
  (cd "$ROOTFS" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort | "${CPIO[@]}" -o -H newc -R 0:0)
  newc dev/console $((0x2180)) 5 1     # S_IFCHR | 0600, 5:1
  newc TRAILER!!! 0 0 0
} | gzip -n -9 > "$WORK/initrd.img"
# (The first archive's own trailer is followed by a second archive; the kernel reads both.)

cp "$WORK/kernel/boot/vmlinuz-$KREL" "$WORK/vmlinuz"
chmod 644 "$WORK/vmlinuz" "$WORK/initrd.img"
(cd "$WORK" && sha256sum vmlinuz initrd.img > SHA256SUMS)
mv -f "$WORK/vmlinuz" "$WORK/initrd.img" "$OUT/"
mv -f "$WORK/SHA256SUMS" "$OUT/SHA256SUMS"
printf '%s\n' "$STAMP_INPUT" > "$OUT/.stamp"
printf '%s\n' "$KREL" > "$OUT/kernel-release"

log "built in $(elapsed): $KPKG $KVER_DEB ($KREL), $BUSYBOX_PKG $BB_VER"
log "  build/vmlinuz     $(stat -c %s "$OUT/vmlinuz") bytes"
log "  build/initrd.img  $(stat -c %s "$OUT/initrd.img") bytes ($(( ${#ORDER[@]} )) modules)"
sed 's/^/testos:   /' "$OUT/SHA256SUMS" >&2
