#!/usr/bin/env bash
# Inside the VM of bench/powercut_vm.sh; what it does depends on $1/mode:
#   install   snd-aloop at every boot, install.sh, the fake desk and the card configured, the
#             unit enabled and running; then the VM powers off cleanly (the disk is the base)
#   cycle     check the record left by the last cut, then calls until the power goes
#             (bench/powercut_guest.py)
#   check     the last check, `deskline calls` as the desk's user, then power off
set -uo pipefail

SHARE=${1:-/mnt/share}
OUT=$SHARE/out
mkdir -p "$OUT"
U=deskline.service
CONF=/etc/deskline/deskline.toml
PY=/opt/deskline/venv/bin/python
mode=$(cat "$SHARE/mode")
exec >>"$OUT/guest-$mode.log" 2>&1
echo "== $(date -u +%FT%TZ) boot, mode $mode, uptime $(cut -d' ' -f1 /proc/uptime) s"

case $mode in
install)
  modprobe snd-aloop
  echo snd-aloop >/etc/modules-load.d/deskline-bench.conf
  mkdir -p /root/src && tar -xf "$SHARE/src.tar" -C /root/src
  /root/src/deskline/install.sh >"$OUT/install.log" 2>&1
  echo "install.sh (example config): exit $?"
  sed -i 's/^card = ""/card = "Loopback"/; s/^hotline_name = ""/hotline_name = "测试热线"/; s/^agent_no = ""/agent_no = "007"/' "$CONF"
  mkdir -p /etc/systemd/system/$U.d
  printf '[Service]\nEnvironment=DESKLINE_HW=fake\n' >/etc/systemd/system/$U.d/fake-desk.conf
  systemctl daemon-reload
  /root/src/deskline/install.sh >"$OUT/install2.log" 2>&1
  rc=$?
  echo "install.sh (configured for the VM): exit $rc"
  sleep 2
  state=$(systemctl is-active "$U"); enabled=$(systemctl is-enabled "$U")
  echo "$U: $state, $enabled"
  runuser -u deskline -- "$PY" -c 'import sys; sys.exit(0)' || true
  if [ "$rc" = 0 ] && [ "$state" = active ] && [ "$enabled" = enabled ]; then
    echo ok >"$OUT/installed"
  fi
  systemctl stop "$U"
  sync
  ;;
cycle)
  "$PY" "$SHARE/powercut_guest.py" "$SHARE" cycle "$(cat "$SHARE/cycle")" "$(cat "$SHARE/seed")"
  echo "driver: exit $?"
  # reached only if the service never came up: keep the VM up for the host to cut anyway
  sleep infinity
  ;;
check)
  "$PY" "$SHARE/powercut_guest.py" "$SHARE" check
  echo "driver: exit $?"
  sync
  ;;
esac
