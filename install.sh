#!/usr/bin/env bash
# Install deskline as a system service on Raspberry Pi OS (Debian bookworm or later).
#
#   sudo ./install.sh              install or update (safe to run again: it changes only what is missing)
#   sudo ./install.sh --uninstall  stop and remove the service and /opt/deskline;
#                                  keeps /etc/deskline (your settings) and /var/lib/deskline (the call record)
#   sudo ./install.sh --uninstall --purge   also removes those and the deskline user
#
# What it does: apt dependencies; a Python venv under /opt/deskline/venv with deskline and its
# dependencies from PyPI (binary wheels; on a Pi that includes lgpio, the GPIO driver); a system
# user "deskline" in the audio and gpio groups, and its state directory /var/lib/deskline (the
# call record); with [keypad] set, a udev rule giving that keypad to the deskline group; /etc/deskline/deskline.toml from the commented example (never overwritten once
# it exists), readable by root and the deskline group only; the systemd unit, enabled and started.
#
# Environment (for image builds and tests): DESKLINE_ROOT=/path installs into that directory
# tree instead of / (users are created with useradd --root, nothing is started);
# DESKLINE_NO_APT=1 skips apt-get.
set -euo pipefail

SRC=$(cd "$(dirname "$0")" && pwd)
ROOT=${DESKLINE_ROOT:-}
PREFIX=/opt/deskline
VENV=$PREFIX/venv
CONF_DIR=/etc/deskline
STATE_DIR=/var/lib/deskline
UNIT=/etc/systemd/system/deskline.service
# the drop-in that lets a desk on a floor ([floor] in its settings) reach the floor's broker
FLOOR_DROPIN=/etc/systemd/system/deskline.service.d/floor.conf
# the USB keypad's udev rule ([keypad] device in the settings): its group and a stable name
KEYPAD_RULE=/etc/udev/rules.d/70-deskline-keypad.rules
USER_NAME=deskline
# every Python dependency comes as a wheel (lgpio's on the Pi too) except python-evdev, the USB
# keypad's, which PyPI has as source only: pip builds it with gcc against the Python and kernel
# headers (python3-dev brings linux-libc-dev); alsa-utils: arecord -l and alsamixer, which
# doctor's advice names
APT_PKGS=(python3-venv libportaudio2 libsndfile1 alsa-utils espeak-ng gcc python3-dev)

say() { echo "install.sh: $*"; }
die() { echo "install.sh: $*" >&2; exit 1; }

uninstall=0 purge=0
for arg in "$@"; do
  case $arg in
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $arg (see --help)" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "run me as root (sudo $0 $*)"

live_systemd() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }
has_group() { grep -q "^$1:" "$ROOT/etc/group"; }
rootopt=(); [ -n "$ROOT" ] && rootopt=(--root "$ROOT")

if [ "$uninstall" -eq 1 ]; then
  if live_systemd; then
    systemctl disable --now deskline.service 2>/dev/null || true
  elif [ -e "$ROOT$UNIT" ]; then
    systemctl "${rootopt[@]}" disable deskline.service >/dev/null 2>&1 || true
  fi
  rm -f "$ROOT$UNIT" "$ROOT$FLOOR_DROPIN" "$ROOT$KEYPAD_RULE"
  rmdir "$ROOT$(dirname "$FLOOR_DROPIN")" 2>/dev/null || true
  live_systemd && systemctl daemon-reload
  rm -rf "$ROOT$PREFIX"
  if [ "$purge" -eq 1 ]; then
    rm -rf "$ROOT$CONF_DIR" "$ROOT$STATE_DIR"
    if grep -q "^$USER_NAME:" "$ROOT/etc/passwd"; then userdel "${rootopt[@]}" "$USER_NAME"; fi
    say "removed deskline, its settings, its call record and the $USER_NAME user"
  else
    say "removed deskline; kept your settings ($CONF_DIR) and the call record ($STATE_DIR)"
  fi
  exit 0
fi

# 1. system packages
if [ -z "${DESKLINE_NO_APT:-}" ]; then
  missing=()
  for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
fi

# 2. the venv and deskline in it (re-installing the same version is a quick no-op for pip)
mkdir -p "$ROOT$PREFIX"
[ -x "$ROOT$VENV/bin/python" ] || python3 -m venv "$ROOT$VENV"
"$ROOT$VENV/bin/python" -m pip install -q --upgrade pip
"$ROOT$VENV/bin/python" -m pip install -q "$SRC"
install -m 0644 "$SRC/README.md" "$ROOT$PREFIX/README.md"

# 3. the user and its groups (audio: the sound card; gpio: /dev/gpiochip*)
has_group gpio || groupadd "${rootopt[@]}" --system gpio
has_group audio || groupadd "${rootopt[@]}" --system audio
if ! grep -q "^$USER_NAME:" "$ROOT/etc/passwd"; then
  useradd "${rootopt[@]}" --system --user-group --home-dir "$STATE_DIR" --no-create-home \
    --shell /usr/sbin/nologin --comment "deskline desk service" "$USER_NAME"
  say "created user $USER_NAME"
fi
usermod "${rootopt[@]}" -a -G audio,gpio "$USER_NAME"
gid() { grep "^$1:" "$ROOT/etc/group" | cut -d: -f3; }
uid() { grep "^$1:" "$ROOT/etc/passwd" | cut -d: -f3; }
# the call record's directory, as the unit's StateDirectory= makes it (so doctor and a first
# start find it before systemd ever ran the service)
install -d -m 0750 -o "$(uid "$USER_NAME")" -g "$(gid "$USER_NAME")" "$ROOT$STATE_DIR"

# 4. settings: the commented example, only if there is no file yet
example="$SRC/firmware/deskline/data/deskline.example.toml"
[ -f "$example" ] || die "missing $example (incomplete source tree?)"
mkdir -p "$ROOT$CONF_DIR"
if [ ! -e "$ROOT$CONF_DIR/deskline.toml" ]; then
  install -m 0640 "$example" "$ROOT$CONF_DIR/deskline.toml"
  say "wrote $CONF_DIR/deskline.toml from the example: set your hotline name and agent number there"
else
  say "kept your $CONF_DIR/deskline.toml"
fi
chgrp "$(gid "$USER_NAME")" "$ROOT$CONF_DIR/deskline.toml"
# readable by root and the deskline group (the service, and whoever may check the desk)
owner=${SUDO_USER:-}
members=$(grep "^$USER_NAME:" "$ROOT/etc/group" | cut -d: -f4)
if [ -n "$owner" ] && [ "$owner" != root ] && [[ ",$members," != *",$owner,"* ]]; then
  say "the settings are readable by root and the $USER_NAME group; to run deskline doctor and config show as $owner: sudo usermod -aG $USER_NAME $owner (then log in again)"
fi

# 5. the unit, enabled (and started when systemd runs here); a desk on a floor gets the
# network its link needs (the unit itself allows none)
mkdir -p "$(dirname "$ROOT$UNIT")"
install -m 0644 "$SRC/systemd/deskline.service" "$ROOT$UNIT"
if grep -Eq '^[[:space:]]*\[floor\][[:space:]]*(#.*)?$' "$ROOT$CONF_DIR/deskline.toml"; then
  install -D -m 0644 "$SRC/systemd/deskline.service.d/floor.conf" "$ROOT$FLOOR_DROPIN"
  say "[floor] is set: installed $FLOOR_DROPIN (the desk may reach the floor's broker)"
elif [ -e "$ROOT$FLOOR_DROPIN" ]; then
  rm -f "$ROOT$FLOOR_DROPIN"
  rmdir "$ROOT$(dirname "$FLOOR_DROPIN")" 2>/dev/null || true
  say "no [floor] in the settings: removed $FLOOR_DROPIN (the desk opens no network)"
fi
# the USB keypad: a udev rule giving that input device (no other) to the deskline group, as
# /dev/input/deskline-keypad; the unit lets the service read input devices, the rule which one
keypad=$("$ROOT$VENV/bin/python" - "$ROOT$CONF_DIR/deskline.toml" <<'PY' 2>&1
import sys
from deskline.config import load_config
from deskline.hw.keypad import udev_rule
try:
    kp = load_config(sys.argv[1]).keypad
    print(udev_rule(kp.device) if kp.enabled else "", end="")
except Exception as exc:
    print(f"ERROR {exc}", end="")
PY
)
if [ -z "$keypad" ]; then
  if [ -e "$ROOT$KEYPAD_RULE" ]; then rm -f "$ROOT$KEYPAD_RULE"; say "no [keypad] in the settings: removed $KEYPAD_RULE"; fi
elif [[ $keypad == ERROR* ]]; then
  say "no udev rule for the keypad: ${keypad#ERROR }"
else
  mkdir -p "$(dirname "$ROOT$KEYPAD_RULE")"
  printf '%s\n' "$keypad" >"$ROOT$KEYPAD_RULE"
  say "[keypad] is set: wrote $KEYPAD_RULE (the keypad is the deskline group's, as /dev/input/deskline-keypad)"
fi
if live_systemd && command -v udevadm >/dev/null; then
  udevadm control --reload 2>/dev/null || true
  udevadm trigger --subsystem-match=input --action=change 2>/dev/null || true
  udevadm settle --timeout=10 2>/dev/null || true
fi
if live_systemd; then
  systemctl daemon-reload
  systemctl enable deskline.service
  if ! systemctl restart deskline.service; then
    pid=$(systemctl show -p ExecMainPID --value deskline.service)
    why=$(journalctl -q -o cat -n 1 _PID="$pid" 2>/dev/null || true)
    die "installed and enabled, but deskline did not start: ${why:-see journalctl -u deskline} (settings: $CONF_DIR/deskline.toml; then: systemctl restart deskline)"
  fi
  say "deskline is running: journalctl -u deskline -f   (check the desk with: sudo -u $USER_NAME $VENV/bin/deskline doctor)"
else
  if ! systemctl "${rootopt[@]}" enable deskline.service >/dev/null 2>&1; then
    mkdir -p "$ROOT/etc/systemd/system/multi-user.target.wants"
    ln -sf "$UNIT" "$ROOT/etc/systemd/system/multi-user.target.wants/deskline.service"
  fi
  say "installed and enabled; it starts at the next boot"
fi
