#!/bin/sh
# Configures the node image's root tree (mmdebstrap's customize hook; $1 is the tree).
#   customize.sh ROOT                 the whole configuration
#   customize.sh --kubelet-unit ROOT  only kubelet's systemd unit and kubeadm's drop-in, for
#                                     static binaries from K8S_DIR (the .debs bring their own)
set -eu

kubelet_unit () {
  root=$1
  mkdir -p "$root/usr/lib/systemd/system/kubelet.service.d"
  # The unit and drop-in kubeadm expects (as the upstream kubelet and kubeadm packages install them).
  cat > "$root/usr/lib/systemd/system/kubelet.service" <<'UNIT'
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
UNIT
  cat > "$root/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf" <<'UNIT'
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
UNIT
  chroot "$root" systemctl enable kubelet.service >/dev/null 2>&1 || true
}

if [ "${1:-}" = --kubelet-unit ]; then kubelet_unit "$2"; exit 0; fi
R=$1

# kubeadm's preflight: overlay and br_netfilter at boot, forwarding and bridged traffic through
# iptables, no swap (there is no swap partition and nothing creates one).
printf 'overlay\nbr_netfilter\n' > "$R/etc/modules-load.d/kubernetes.conf"
cat > "$R/etc/sysctl.d/90-kubernetes.conf" <<'CONF'
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
CONF

# containerd with the systemd cgroup driver (what kubelet uses by default since 1.22).
mkdir -p "$R/etc/containerd"
chroot "$R" containerd config default > "$R/etc/containerd/config.toml"
sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' "$R/etc/containerd/config.toml"
grep -q 'SystemdCgroup = true' "$R/etc/containerd/config.toml" || { echo "customize: containerd's config has no SystemdCgroup key" >&2; exit 1; }
# crictl talks to containerd.
printf 'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\n' > "$R/etc/crictl.yaml"

# Network: DHCP on every wired NIC by default (systemd-networkd). The installer replaces this
# with the machine's static configuration from the inventory when it writes the disk.
mkdir -p "$R/etc/systemd/network"
cat > "$R/etc/systemd/network/80-rackboot-dhcp.network" <<'CONF'
[Match]
Type=ether
Name=en* eth*

[Network]
DHCP=ipv4
IPv6AcceptRA=no

[DHCPv4]
UseHostname=false
CONF
chroot "$R" systemctl enable systemd-networkd.service systemd-resolved.service >/dev/null 2>&1 || chroot "$R" systemctl enable systemd-networkd.service
# cloud-init: rackboot's NoCloud seed (the installer says where); the network stays networkd's.
mkdir -p "$R/etc/cloud/cloud.cfg.d"
cat > "$R/etc/cloud/cloud.cfg.d/90-rackboot.cfg" <<'CONF'
# rackboot debian-node: the seed comes from rackboot (NoCloud over HTTP); see 91-rackboot-seed.cfg,
# written by the installer. The network is configured by systemd-networkd, not cloud-init.
datasource_list: [ NoCloud, None ]
network: { config: disabled }
growpart: { mode: auto, devices: ['/'] }
resize_rootfs: true
ssh_deletekeys: true
ssh_genkeytypes: [ ed25519, ecdsa, rsa ]
CONF

# Consoles: VGA and the first serial port (getty on both).
chroot "$R" systemctl enable serial-getty@ttyS0.service >/dev/null 2>&1 || true

# No identity baked in: machine-id, host keys and hostname are made on the machine's first boot.
: > "$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id" "$R"/etc/ssh/ssh_host_*
echo localhost > "$R/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
rm -f "$R/etc/resolv.conf"
ln -s ../run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
# Apt lists and caches are the build's, not the node's.
rm -rf "$R/var/lib/apt/lists/"* "$R/var/cache/apt/"*.bin
