#!/usr/bin/env bash
# python-evdev (the USB keypad's library) on fresh Debian bookworm roots, amd64 and arm64 (the
# arm64 one runs through qemu-user, as a Raspberry Pi OS 64-bit look-alike): PyPI has no wheels
# for it, so pip builds it. Checks what that build needs: without gcc and python3-dev it fails,
# with the packages install.sh and the README's install command bring it builds and imports.
#
#   sudo bash bench/evdev_build.sh [amd64] [arm64]     (default: both)
#
# Writes bench/results/evdev_build.md. Needs root, debootstrap, and for arm64 qemu-user-static
# and binfmt-support (installed with apt if missing). Roots are cached (pristine) under
# $DESKLINE_EVDEV_CACHE, default /var/tmp/deskline-evdev.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/results/evdev_build.md
CACHE=${DESKLINE_EVDEV_CACHE:-/var/tmp/deskline-evdev}
MIRROR=${DESKLINE_MIRROR:-http://deb.debian.org/debian}
ARCHS=("$@"); [ ${#ARCHS[@]} -gt 0 ] || ARCHS=(amd64 arm64)
[ "$(id -u)" -eq 0 ] || { echo "run me as root" >&2; exit 1; }
need=(debootstrap)
[[ " ${ARCHS[*]} " == *" arm64 "* ]] && need+=(qemu-user-static binfmt-support)
missing=(); for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
mkdir -p "$CACHE"
if [[ " ${ARCHS[*]} " == *" arm64 "* ]]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || { echo "binfmt for qemu-aarch64 is not registered" >&2; exit 1; }
fi

# a chroot needs the host's CA store when the network inspects TLS (as this host's does)
in_root() { local root=$1; shift; chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 "$@"; }

rows=() details=()
for arch in "${ARCHS[@]}"; do
  root=$CACHE/$arch
  if [ ! -e "$root.done" ]; then
    rm -rf "$root"
    debootstrap --arch="$arch" --variant=minbase --include=python3-venv,ca-certificates \
      bookworm "$root" "$MIRROR" >"$CACHE/debootstrap-$arch.log" 2>&1
    touch "$root.done"
  fi
  work=$CACHE/$arch-run
  rm -rf "$work"; cp -a "$root" "$work"
  cp /etc/resolv.conf "$work/etc/resolv.conf"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$work/usr/local/share/ca-certificates/"
    in_root "$work" update-ca-certificates >/dev/null 2>&1
  fi
  mount --bind /proc "$work/proc"
  # 1. the bare root: python3-venv only
  in_root "$work" python3 -m venv /v >/dev/null
  t0=$(date +%s)
  set +e
  bare=$(in_root "$work" /v/bin/pip install --no-cache-dir evdev 2>&1); bare_rc=$?
  set -e
  bare_why=$(echo "$bare" | grep -m1 -oE "error: command '[^']+' failed|Python.h: No such file[^\"]*|unable to execute '[^']+'|fatal error: [^ ]+" || echo "$bare" | tail -1)
  # 2. with what install.sh brings: gcc python3-dev
  in_root "$work" apt-get update -q >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive in_root "$work" apt-get install -y -q --no-install-recommends gcc python3-dev >"$CACHE/apt-$arch.log" 2>&1
  t1=$(date +%s)
  set +e
  built=$(in_root "$work" /v/bin/pip install --no-cache-dir evdev 2>&1); built_rc=$?
  t2=$(date +%s)
  probe=$(in_root "$work" /v/bin/python -c "import evdev, platform; from evdev import ecodes; print(platform.machine(), evdev.__name__, ecodes.KEY_KP1, ecodes.KEY[ecodes.KEY_NUMLOCK])" 2>&1)
  set -e
  ver=$(echo "$built" | grep -m1 -oE "Successfully installed evdev-[0-9.]+" || echo "$built" | tail -1)
  umount "$work/proc"
  rows+=("| $arch | $(in_root "$work" cat /etc/debian_version) | exit $bare_rc: $bare_why | exit $built_rc in $((t2 - t1)) s: $ver | $probe |")
  details+=("## $arch" "" '```' "$ pip install evdev   (python3-venv only)" "$(echo "$bare" | tail -6)" "" \
            "$ apt-get install gcc python3-dev; pip install evdev" "$(echo "$built" | tail -4)" "" \
            "$ python -c 'import evdev ...'" "$probe" '```' "")
  rm -rf "$work"
done

{
  echo "# python-evdev on fresh Debian bookworm roots"
  echo
  echo "PyPI has python-evdev as source only (no wheels; \`evdev-binary\` has an x86_64 wheel and"
  echo "none for aarch64), so pip builds it. Reproduce: \`sudo bash bench/evdev_build.sh\`"
  echo "(arm64 runs under qemu-user: build times there are of an emulated CPU)."
  echo
  echo "| arch | Debian | pip install evdev, python3-venv only | after apt-get install gcc python3-dev | import |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "So the USB keypad needs gcc and python3-dev (which brings the kernel's input headers through"
  echo "linux-libc-dev) at install time: install.sh, the README's install command and"
  echo "scripts/test.sh install them."
  echo
  printf '%s\n' "${details[@]}"
} >"$OUT"
echo "wrote $OUT" >&2
cat "$OUT" | sed -n '/^| arch/,/^$/p' >&2
