#!/usr/bin/env bash
# Install everything the test suite needs on Debian bookworm / Raspberry Pi OS, then run it.
# Usage: sudo bash scripts/test.sh [pytest args...]   (as root: installs apt packages itself)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(python3-venv gcc python3-dev libportaudio2 libsndfile1 pulseaudio pulseaudio-utils libasound2-plugins sox espeak-ng socat systemd passwd
          mosquitto openssl chromium chromium-driver)
missing=()
for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: missing packages ${missing[*]}; run as root or install them" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi

VENV=${DESKLINE_TEST_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[dev,bench,floor]"
# silero-vad is the reference VAD for the benchmark and the source of the shipped speech network
# (the tests check the package's files against its model), and declares torch; its ONNX model is
# all we load, so install it without dependencies, at the version the package's files come from.
"$VENV/bin/python" -m pip install -q --no-deps "silero-vad==6.2.3"

exec "$VENV/bin/python" -m pytest "$@"
