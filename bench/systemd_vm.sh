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
NAME=systemd_vm
rebuild=0
for arg in "$@"; do
  case $arg in
    --rebuild) rebuild=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "$NAME: unknown option $arg (see --help)" >&2; exit 1 ;;
  esac
done
# the image (cached), the accelerator, say/die: shared with bench/powercut_vm.sh
. "$HERE/vm_image.sh"
OUT_MD=$SRC/bench/results/systemd_vm.md
TIMEOUT_S=${DESKLINE_VM_TIMEOUT_S:-3600}
[ "$(id -u)" -eq 0 ] || die "run me as root"
vm_tools

# --- 1. the image (cached) -------------------------------------------------------------------
vm_image

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
