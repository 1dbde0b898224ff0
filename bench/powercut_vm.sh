#!/usr/bin/env bash
# Power cuts mid-call: does every finished call survive one? In the throwaway VM of
# bench/systemd_vm.sh, with a disk that persists across the cuts.
#
#   sudo nice -n 10 bench/powercut_vm.sh [--cuts N] [--seed S] [--rebuild]
#
# 1. Install (once per desk software: reused while firmware/, systemd/, sounds/, install.sh,
#    pyproject.toml and setup.py are the same as when it was made): boot the cached image
#    (bench/vm_image.sh) on a qcow2 copy, run install.sh, configure the fake desk
#    (DESKLINE_HW=fake) and the snd-aloop card, power off cleanly. That disk is the base.
# 2. N cycles, each on a new qcow2 layer over the last one: boot (the unit starts by itself);
#    the guest (bench/powercut_guest.py) checks the record left by the last cut against the
#    ledger, then makes calls on the fake desk (ring, lift, 3-9 s of line, maybe a phrase key or
#    a hold, hang up); each call it sees finished in the record goes into the ledger on the share
#    (fsynced to the host) with all its fields. A random moment after the guest says its calls
#    run (uniform in DESKLINE_POWERCUT_DELAY_S, default "10 60"), the host kills qemu (SIGKILL).
# 3. A last boot checks the record once more and runs `deskline calls`; the figures go to
#    bench/results/powercut.md.
#
# What a cut is here: qemu killed, so the guest's RAM (page cache, SQLite's and the service's
# memory) is gone, and a write the guest issued but the disk had not completed is lost. The
# disk is a qcow2 layer opened cache=none (O_DIRECT: no host page cache between the guest and
# the file; the guest sees a volatile write cache and flushes it); each cycle's layer is new
# with 4 KiB clusters, so every block first written in a cycle is an allocation whose mapping
# qemu keeps in memory until the guest's next flush: a cut drops the blocks written since the
# last flush, as a disk's volatile cache does. Not modelled: a disk that loses or reorders
# writes it acknowledged as flushed, torn sectors, a cut while the host itself writes.
#
# Needs root, qemu-system-x86, qemu-utils, debootstrap (see bench/systemd_vm.sh). Only what is
# committed is tested. Environment: DESKLINE_VM_CACHE (the image and, under powercut/, the
# disks and the share), DESKLINE_VM_ACCEL, DESKLINE_POWERCUT_DELAY_S ("MIN MAX").
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
NAME=powercut_vm
rebuild=0
cuts=15
seed=$(date +%s)
while [ $# -gt 0 ]; do
  case $1 in
    --rebuild) rebuild=1 ;;
    --cuts) cuts=$2; shift ;;
    --seed) seed=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "$NAME: unknown option $1 (see --help)" >&2; exit 1 ;;
  esac
  shift
done
. "$HERE/vm_image.sh"
[ "$(id -u)" -eq 0 ] || die "run me as root"
read -r DMIN DMAX <<<"${DESKLINE_POWERCUT_DELAY_S:-10 60}"
vm_tools qemu-img:qemu-utils
vm_image

W=$CACHE/powercut
SHARE=$W/share
mkdir -p "$W"
commit=$(git -C "$SRC" rev-parse --short HEAD)
# what install.sh puts on the desk: the install is made again when any of it changes
key=$(git -C "$SRC" rev-parse HEAD:firmware HEAD:systemd HEAD:sounds HEAD:install.sh \
      HEAD:pyproject.toml HEAD:setup.py | sha1sum | cut -c1-16)

boot() {  # boot DISK LOG: qemu in the background (pid in $QPID); the disk persists
  qemu-system-x86_64 "${ACCEL_ARGS[@]}" -smp 2 -m 1024 \
    -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=0" \
    -drive file="$1",format=qcow2,if=virtio,cache=none,aio=threads \
    -virtfs local,path="$SHARE",mount_tag=share,security_model=none,id=share \
    -netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
    -nographic -no-reboot </dev/null >"$2" 2>&1 &
  QPID=$!
}
share() {  # share MODE: the committed tree and the guest's scripts
  mkdir -p "$SHARE/out"
  git -C "$SRC" archive --format=tar --prefix=deskline/ HEAD >"$SHARE/src.tar"
  install -m 0755 "$HERE/powercut_vm_guest.sh" "$SHARE/guest.sh"
  install -m 0644 "$HERE/powercut_guest.py" "$SHARE/powercut_guest.py"
  echo "$1" >"$SHARE/mode"
  echo "$seed" >"$SHARE/seed"
}

# --- 1. the base: installed and configured, powered off cleanly -----------------------------------
if [ ! -s "$W/base.qcow2" ] || [ "$(cat "$W/base.key" 2>/dev/null)" != "$key" ]; then
  rm -rf "$SHARE" "$W"/base.* "$W"/cycle-*.qcow2
  say "installing the desk on a copy of $IMG (install.sh's apt-get and pip: several minutes)"
  qemu-img convert -f raw -O qcow2 "$IMG" "$W/base.qcow2"
  share install
  t0=$(date +%s)
  boot "$W/base.qcow2" "$W/console-install.log"
  timeout 3600 tail --pid="$QPID" -f /dev/null || { kill -9 "$QPID"; die "install boot timed out"; }
  wait "$QPID" || true
  [ -s "$SHARE/out/installed" ] || die "install failed: see $SHARE/out/guest-install.log, $SHARE/out/install*.log"
  echo "$key" >"$W/base.key"
  echo "$commit $(( $(date +%s) - t0 ))" >"$W/base.made"
  cat "$SHARE"/out/guest-install.log "$SHARE"/out/install*.log >"$W/base.install.log"
  say "installed in $(( $(date +%s) - t0 )) s"
fi
read -r base_commit base_s <"$W/base.made"

# --- 2. the cuts ----------------------------------------------------------------------------------
rm -rf "$SHARE" "$W"/cycle-*.qcow2 "$W"/console-cycle-*.log "$W/cuts.tsv"
share cycle
printf 'cycle\tboot_to_running_s\tdelay_s\tkilled_at\tlast_phase\n' >"$W/cuts.tsv"
back=$W/base.qcow2
started=$(date -u +%FT%TZ)
t_all=$(date +%s)
for ((i = 1; i <= cuts; i++)); do
  disk=$(printf '%s/cycle-%03d.qcow2' "$W" "$i")
  qemu-img create -q -f qcow2 -o cluster_size=4096 -b "$back" -F qcow2 "$disk"
  echo "$i" >"$SHARE/cycle"
  boot "$disk" "$(printf '%s/console-cycle-%03d.log' "$W" "$i")"
  t0=$(date +%s.%N)
  until grep -q "^$i " "$SHARE/out/running" 2>/dev/null; do
    kill -0 "$QPID" 2>/dev/null || die "cycle $i: qemu ended before the calls ran"
    if python3 -c "import sys, time; sys.exit(time.time() - float(sys.argv[1]) < 1200)" "$t0"; then
      kill -9 "$QPID"; die "cycle $i: no calls running after 20 min (see $SHARE/out)"
    fi
    sleep 0.5
  done
  up=$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$t0")
  delay=$(python3 -c "import random, sys; r = random.Random(int(sys.argv[1]) * 7919 + int(sys.argv[2])); print(f'{r.uniform(float(sys.argv[3]), float(sys.argv[4])):.2f}')" "$seed" "$i" "$DMIN" "$DMAX")
  sleep "$delay"
  kill -9 "$QPID"
  at=$(date -u +%T.%N | cut -c1-12)
  wait "$QPID" 2>/dev/null || true
  last=$(grep "^$i " "$SHARE/out/phase.log" 2>/dev/null | tail -1 | cut -d' ' -f3- || true)
  printf '%s\t%s\t%s\t%s\t%s\n' "$i" "$up" "$delay" "$at" "${last:-none}" >>"$W/cuts.tsv"
  say "cut $i/$cuts: calls ran after $up s, power cut $delay s later, during: ${last:-nothing yet}"
  back=$disk
done
t_cuts=$(( $(date +%s) - t_all ))

# --- 3. the last boot: check, deskline calls, clean power-off -------------------------------------
disk=$(printf '%s/cycle-%03d.qcow2' "$W" $((cuts + 1)))
qemu-img create -q -f qcow2 -o cluster_size=4096 -b "$back" -F qcow2 "$disk"
echo check >"$SHARE/mode"
t0=$(date +%s)
boot "$disk" "$W/console-check.log"
timeout 1800 tail --pid="$QPID" -f /dev/null || { kill -9 "$QPID"; die "the last boot timed out"; }
wait "$QPID" || true
t_check=$(( $(date +%s) - t0 ))
[ -s "$SHARE/out/final.json" ] || die "no final check from the VM: see $W/console-check.log, $SHARE/out"

# --- 4. the figures -------------------------------------------------------------------------------
OUT_MD=$SRC/bench/results/powercut.md
python3 "$HERE/powercut_report.py" --share "$SHARE" --cuts-tsv "$W/cuts.tsv" --consoles "$W" \
  --commit "$commit" --base-commit "$base_commit" --base-s "$base_s" --started "$started" \
  --seed "$seed" --delay "$DMIN $DMAX" --cuts-s "$t_cuts" --check-s "$t_check" \
  --accel "$ACCEL ${ACCEL_ARGS[*]}" --qemu "$(qemu-system-x86_64 --version | head -1)" \
  --host "$(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
  >"$OUT_MD"
say "wrote $OUT_MD"
sed -n '/^## Figures/,/^## /p' "$OUT_MD" >&2
