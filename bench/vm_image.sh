# The throwaway VM's Debian image, shared by bench/systemd_vm.sh and bench/powercut_vm.sh
# (sourced, not run). Before sourcing, set NAME (the prefix of messages) and rebuild (1: build
# the cached image again). Gives: CACHE, MIRROR, ACCEL, ACCEL_ARGS, IMG, say, die, vm_tools,
# vm_image.
#
# The image: a minimal Debian bookworm with systemd and linux-image-amd64 by debootstrap, as an
# ext4 image (cached under $DESKLINE_VM_CACHE, default /var/tmp/deskline-vm), whose oneshot
# unit deskline-vmcheck.service mounts the 9p share "share" at /mnt/share, runs its guest.sh
# and powers the VM off.

CACHE=${DESKLINE_VM_CACHE:-/var/tmp/deskline-vm}
MIRROR=${DESKLINE_VM_MIRROR:-http://deb.debian.org/debian}
# KVM when it can run a stock kernel. Under kvm_pvm (a paravirtual KVM: /dev/kvm exists, but a
# guest kernel must be built for PVM) the Debian kernel hangs right after decompression, so
# there qemu emulates the CPU (TCG): everything works, only CPU figures are inflated.
if [ -n "${DESKLINE_VM_ACCEL:-}" ]; then ACCEL=$DESKLINE_VM_ACCEL
elif [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then ACCEL=kvm
else ACCEL=tcg; fi
if [ "$ACCEL" = kvm ]; then ACCEL_ARGS=(-accel kvm -cpu host); else ACCEL_ARGS=(-accel tcg,thread=multi -cpu max); fi
IMG=$CACHE/rootfs.ext4

say() { echo "$NAME: $*" >&2; }
die() { say "$*"; exit 1; }

vm_tools() {  # what building and booting the image needs, and "command:package" pairs given
  local need=() pair
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}"); done
  command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
  if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
  fi
}

build_image() {
  local root=$CACHE/rootfs
  rm -f "$IMG"
  mkdir -p "$CACHE"
  if [ "$rebuild" -eq 1 ] || [ ! -e "$CACHE/rootfs.done" ]; then
    rm -rf "$root" "$CACHE/rootfs.done"
    say "debootstrap bookworm into $root (a few minutes)"
    debootstrap --variant=minbase \
      --include=systemd,systemd-sysv,udev,kmod,linux-image-amd64,python3,ca-certificates,iproute2,procps,util-linux \
      bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
      || die "debootstrap failed, see $CACHE/debootstrap.log"
    touch "$CACHE/rootfs.done"
  fi
  echo deskline-vm >"$root/etc/hostname"
  echo "/dev/vda / ext4 rw,relatime 0 1" >"$root/etc/fstab"
  echo "nameserver 10.0.2.3" >"$root/etc/resolv.conf"
  mkdir -p "$root/etc/systemd/network"
  printf '[Match]\nName=en*\n\n[Network]\nDHCP=yes\n' >"$root/etc/systemd/network/20-wired.network"
  # the bench: mount the share, run its guest script, power off whatever happens
  cat >"$root/etc/systemd/system/deskline-vmcheck.service" <<'UNIT'
[Unit]
Description=deskline VM check (bench/systemd_vm.sh)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
StandardOutput=journal+console
StandardError=journal+console
ExecStartPre=/bin/sh -c 'modprobe -a 9p 9pnet_virtio; mkdir -p /mnt/share; mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share /mnt/share'
ExecStart=/bin/sh -c '/bin/bash /mnt/share/guest.sh /mnt/share; sync; systemctl --no-block poweroff'
ExecStopPost=/bin/systemctl --no-block poweroff
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
  chroot "$root" systemctl enable systemd-networkd.service deskline-vmcheck.service >/dev/null 2>&1
  chroot "$root" passwd -d root >/dev/null
  # A network that inspects TLS through its own CA (as this host's does): the VM trusts what the
  # host trusts, and pip there (which otherwise carries its own CA list) uses the system's.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
  fi
  cp -L "$root/vmlinuz" "$CACHE/vmlinuz"
  cp -L "$root/initrd.img" "$CACHE/initrd.img"
  say "making $IMG"
  mkfs.ext4 -q -F -L deskline-vm -d "$root" "$IMG" 4G
}

vm_image() {  # the cached image, built when missing or asked for
  if [ "$rebuild" -eq 1 ] || [ ! -s "$IMG" ] || [ ! -s "$CACHE/vmlinuz" ]; then
    build_image
  fi
}
