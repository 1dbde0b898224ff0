#!/usr/bin/env bash
# The shipped unit and install.sh under a real systemd and a real ALSA card, in a throwaway VM.
#
#   sudo bench/systemd_vm.sh             boot, install, check, write bench/results/systemd_vm.md
#   sudo bench/systemd_vm.sh --rebuild   build the cached Debian image again first
#
# Builds (once, cached under $DESKLINE_VM_CACHE, default /var/tmp/deskline-vm) a minimal Debian
# bookworm with systemd and linux-image-amd64 by debootstrap, as an ext4 image. Each run boots
# it with qemu (KVM or TCG, -snapshot: the image is never changed) with a 9p share holding the
# committed tree (git archive HEAD) and bench/systemd_vm_guest.sh; a oneshot unit in the image
# runs that script (snd-aloop, install.sh, the checks), which writes its report to the share
# and powers the VM off. The guest needs the network (slirp) for install.sh's apt-get and pip.
#
# Needs root, qemu-system-x86 (and /dev/kvm to be fast), debootstrap, e2fsprogs (installed with
# apt if missing). Only what is committed is tested. Environment: DESKLINE_VM_ACCEL=kvm|tcg
# (default: kvm when usable), DESKLINE_VM_CACHE, DESKLINE_VM_MIRROR, DESKLINE_VM_TIMEOUT_S.
# Under TCG a run takes about 10 minutes (install.sh's apt-get and pip take half of it).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
CACHE=${DESKLINE_VM_CACHE:-/var/tmp/deskline-vm}
MIRROR=${DESKLINE_VM_MIRROR:-http://deb.debian.org/debian}
OUT_MD=$SRC/bench/results/systemd_vm.md
TIMEOUT_S=${DESKLINE_VM_TIMEOUT_S:-3600}
# KVM when it can run a stock kernel. Under kvm_pvm (a paravirtual KVM: /dev/kvm exists, but a
# guest kernel must be built for PVM) the Debian kernel hangs right after decompression, so
# there qemu emulates the CPU (TCG): everything works, only CPU figures are inflated.
if [ -n "${DESKLINE_VM_ACCEL:-}" ]; then ACCEL=$DESKLINE_VM_ACCEL
elif [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then ACCEL=kvm
else ACCEL=tcg; fi
if [ "$ACCEL" = kvm ]; then ACCEL_ARGS=(-accel kvm -cpu host); else ACCEL_ARGS=(-accel tcg,thread=multi -cpu max); fi

say() { echo "systemd_vm: $*" >&2; }
die() { say "$*"; exit 1; }

rebuild=0
for arg in "$@"; do
  case $arg in
    --rebuild) rebuild=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $arg (see --help)" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "run me as root"

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
fi

# --- 1. the image (cached) -------------------------------------------------------------------
IMG=$CACHE/rootfs.ext4
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
  cat >"$root/etc/systemd/system/deskline-vmcheck.service" <<'EOF'
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
EOF
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
if [ "$rebuild" -eq 1 ] || [ ! -s "$IMG" ] || [ ! -s "$CACHE/vmlinuz" ]; then
  build_image
fi

# --- 2. the share: the committed tree and the guest script -----------------------------------
RUN=$CACHE/run
rm -rf "$RUN"
mkdir -p "$RUN/out"
commit=$(git -C "$SRC" rev-parse --short HEAD)
git -C "$SRC" archive --format=tar --prefix=deskline/ HEAD >"$RUN/src.tar"
install -m 0755 "$HERE/systemd_vm_guest.sh" "$RUN/guest.sh"
echo "$commit" >"$RUN/commit"
echo "$ACCEL" >"$RUN/accel"
# the same fixed work timed in the VM and here: how much slower the VM's CPU is (for TCG)
cat >"$RUN/calib.py" <<'PY'
import time
import numpy as np
from deskline.dsp.meter import LineMeter

x = 0.1 * np.random.default_rng(0).standard_normal(48000 * 20)
meter = LineMeter(48000)
t0 = time.process_time()
for i in range(0, len(x), 4800):
    meter.feed_all(x[i:i + 4800])
t1 = time.process_time()
sum(i * i for i in range(3_000_000))
t2 = time.process_time()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
PY

# --- 3. boot ---------------------------------------------------------------------------------
say "booting (console: $RUN/console.log); install.sh and the checks take a few minutes"
t0=$(date +%s)
set +e
timeout "$TIMEOUT_S" qemu-system-x86_64 "${ACCEL_ARGS[@]}" -smp 2 -m 1024 \
  -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=0" \
  -drive file="$IMG",format=raw,if=virtio -snapshot \
  -virtfs local,path="$RUN",mount_tag=share,security_model=none,id=share \
  -netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
  -nographic -no-reboot </dev/null >"$RUN/console.log" 2>&1
qrc=$?
set -e
t1=$(date +%s)
[ -s "$RUN/out/report.md" ] || die "no report from the VM (qemu rc $qrc); see $RUN/console.log"

# --- 4. the report -----------------------------------------------------------------------------
calib_host=$(cd "$RUN" && python3 calib.py)
calib_vm=$(cat "$RUN/out/calib.txt" 2>/dev/null || echo "? ?")
slow=$(python3 -c "import sys; h, v = sys.argv[1].split(), sys.argv[2].split(); print(' / '.join(f'{float(b) / float(a):.1f}x' for a, b in zip(h, v)))" "$calib_host" "$calib_vm" 2>/dev/null || echo "?")
mkdir -p "$(dirname "$OUT_MD")"
{
  echo "# deskline under a real systemd and a real ALSA card (throwaway VM)"
  echo
  echo "Reproduce (root; the first run builds the cached image):"
  echo
  echo '```'
  echo "sudo bench/systemd_vm.sh"
  echo '```'
  echo
  echo "Tree: commit $commit (git archive HEAD). Host: $(uname -r), $(qemu-system-x86_64 --version | head -1)," \
       "accelerator $ACCEL (${ACCEL_ARGS[*]}), 2 vCPUs (host CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), 1 GB." \
       "VM run: $((t1 - t0)) s wall, qemu exit $qrc."
  echo
  echo "CPU speed of the VM against this host, the same work timed in both (calib.py: 20 s of" \
       "48 kHz audio through LineMeter / a pure-Python loop; CPU seconds): host $calib_host, VM $calib_vm," \
       "so the VM is $slow slower. Under TCG (no usable KVM) the CPU shares below are of an emulated" \
       "CPU: dividing by that factor estimates the same work on this host's CPU."
  echo
  cat "$RUN/out/report.md"
} >"$OUT_MD"
say "wrote $OUT_MD"
grep -E '^\| ' "$RUN/out/report.md" | head -40 >&2 || true
