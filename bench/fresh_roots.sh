#!/usr/bin/env bash
# What a new user does with deskline, on fresh Debian bookworm roots: amd64, and arm64 (a
# Raspberry Pi OS look-alike, run through qemu-user-static and binfmt_misc).
#
#   sudo bash bench/fresh_roots.sh                   amd64 (with the test suite), then arm64
#   sudo bash bench/fresh_roots.sh --arch arm64      one architecture (--arch may be repeated)
#   options: --tests / --no-tests   run the README's test command or not (default: on amd64
#            only; under qemu-user the suite takes hours); --keep  leave the roots to look into
#
# Each root is debootstrap --variant=minbase bookworm from the mirror this machine's apt uses
# (kept pristine under $DESKLINE_ROOTS_CACHE, default /var/tmp/deskline-roots, and copied
# afresh for every run), given what Raspberry Pi OS has out of the box: sudo, ca-certificates,
# a user "pi" who may sudo. The committed tree (git archive HEAD) goes to ~pi/deskline. Then,
# each step timed: the README's two commands as README.md has them, sudo ./install.sh,
# deskline demo from /opt/deskline, doctor and simulate as pi before and after joining the
# deskline group, doctor on the fake desk, the uninstall. What pip built from source is read
# from pip's wheel cache; the build is checked for setuptools warnings. Under qemu-user sudo
# cannot raise privileges (no setuid), so there the README's commands and install.sh run as root.
#
# Needs root, debootstrap, and for arm64 qemu-user-static and binfmt-support (installed with apt
# if missing), and the network (the Debian mirror and PyPI). pip inside the roots trusts this
# machine's CA bundle (/etc/pip.conf there), for networks that inspect TLS.
# Writes bench/results/fresh_roots_<arch>.md. About 20 min for amd64 with the tests, 30 for arm64.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
CACHE=${DESKLINE_ROOTS_CACHE:-/var/tmp/deskline-roots}
SUITE=bookworm

say() { echo "fresh_roots: $*" >&2; }
die() { say "$*"; exit 1; }

archs=() tests="" keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --arch) archs+=("$2"); shift ;;
    --tests) tests=1 ;;
    --no-tests) tests=0 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[ ${#archs[@]} -gt 0 ] || archs=(amd64 arm64)
[ "$(id -u)" -eq 0 ] || die "run me as root (sudo bash $0)"
for a in "${archs[@]}"; do
  case $a in amd64|arm64) ;; *) die "--arch $a: amd64 or arm64" ;; esac
done

# the mirror apt uses here (deb822 .sources or a one-line sources.list)
mirror() {
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $3 == "'$SUITE'" {print $2; exit}' /etc/apt/sources.list)
  fi
  echo "${DESKLINE_ROOTS_MIRROR:-${m:-http://deb.debian.org/debian}}"
}
MIRROR=$(mirror)

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
if [[ " ${archs[*]} " == *" arm64 "* ]] && [ "$(dpkg --print-architecture)" != arm64 ]; then
  command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
  command -v update-binfmts >/dev/null || need+=(binfmt-support)
fi
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
fi

# the README's commands, verbatim: the sh blocks under "## Two commands"
readme_cmd() {
  awk -v want="$1" '/^## /{inside = ($0 ~ /^## Two commands/)} inside && /^```sh/{n++; grab = (n == want); next}
    /^```/{grab = 0} grab' "$SRC/README.md"
}
README_INSTALL=$(readme_cmd 1)
README_TEST=$(readme_cmd 2)
[ -n "$README_INSTALL" ] && [ -n "$README_TEST" ] || die "README.md: no two sh blocks under '## Two commands'"

COMMIT=$(git -C "$SRC" rev-parse --short HEAD)
DIRTY=$(git -C "$SRC" status --porcelain --untracked-files=no | wc -l)

# --- one root ------------------------------------------------------------------------------
R="" LOG="" ROWS=() FAILED=0 mounted=()
cleanup() {
  [ -n "$R" ] || return 0
  # whatever the run left running inside the root (a sound server the tests started, ...)
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && kill -9 "${p#/proc/}" 2>/dev/null || true
  done
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  mounted=()
  [ "$keep" -eq 1 ] || rm -rf --one-file-system "$R"
}
trap cleanup EXIT

mnt() { mount "$@"; mounted+=("${!#}"); }

pi_cpuinfo() {   # /proc/cpuinfo as a Raspberry Pi 5 (BCM2712, 4x Cortex-A76) shows it
  local i
  for i in 0 1 2 3; do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\n' "$i"
    printf 'Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n'
    printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n'
  done
  printf 'Revision\t: d04170\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n'
}

base_root() {   # the pristine debootstrap root of this architecture, made once
  local arch=$1 base=$CACHE/base-$1
  if [ ! -f "$base/.deskline-base" ]; then
    rm -rf "$base"; mkdir -p "$CACHE"
    say "$arch: debootstrap --variant=minbase $SUITE from $MIRROR"
    local t0=$SECONDS
    debootstrap --arch="$arch" --variant=minbase "$SUITE" "$base" "$MIRROR" >"$CACHE/debootstrap-$arch.log" 2>&1 \
      || die "$arch: debootstrap failed, see $CACHE/debootstrap-$arch.log"
    echo "$(date -u +%F) $((SECONDS - t0))" > "$base/.deskline-base"
  fi
  cat "$base/.deskline-base"
}

# run a command in the root: as USER (root or pi), in the checkout, with a login's environment
in_root() {
  local user=$1; shift
  local home=/root; [ "$user" = root ] || home=/home/$user
  chroot "$R" /usr/sbin/runuser -u "$user" -- /usr/bin/env -i HOME="$home" USER="$user" \
    LOGNAME="$user" LANG=C.UTF-8 TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd $CHECKOUT && $*"
}

# the first N characters of each line (not bytes: the settings hold Chinese names)
clip() { LC_ALL=C.UTF-8 sed -E "s/^(.{$1}).*/\\1/"; }

# step NAME USER CHECK COMMAND: time COMMAND in the root, then CHECK (a shell test over $out and
# $rc) says whether it did what it should; the row shows EVIDENCE (set by CHECK) or the last line
step() {
  local name=$1 user=$2 check=$3; shift 3
  local n=$(( ${#ROWS[@]} + 1 )) t0 t1 rc=0
  local log=$LOG/$(printf %02d "$n").log
  say "$ARCH: $name"
  t0=$(date +%s.%N)
  in_root "$user" "$@" >"$log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  out=$(cat "$log"); evidence=""
  local verdict=PASS
  if ! ( eval "$check" ) >/dev/null 2>&1; then verdict=FAIL; FAILED=$((FAILED + 1)); fi
  evidence=$(eval "ev_$n" 2>/dev/null || true)
  [ -n "$evidence" ] || evidence=$( (grep -v '^\s*$' "$log" || true) | tail -n 1)
  evidence=$(echo "$evidence" | tr '\n|' ' /' | clip 400)
  unset -f "ev_$n" 2>/dev/null || true
  ROWS+=("| $name | $verdict | $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}") | exit $rc: $evidence |")
  say "$ARCH: $name: $verdict ($rc)"
}
# evidence for the next step: a command printing one line from $out
evidence_for_next() { eval "ev_$(( ${#ROWS[@]} + 1 ))() { $1; }"; }

run_arch() {
  ARCH=$1
  local run_tests=$tests
  [ -n "$run_tests" ] || { [ "$ARCH" = amd64 ] && run_tests=1 || run_tests=0; }
  local foreign=0
  [ "$ARCH" = "$(dpkg --print-architecture)" ] || foreign=1
  if [ "$foreign" -eq 1 ]; then
    [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    update-binfmts --enable qemu-aarch64 2>/dev/null || true
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || die "arm64: binfmt for qemu-aarch64 is not registered"
  fi
  local RUNAS=pi; [ "$foreign" -eq 1 ] && RUNAS=root
  local base; base=$(base_root "$ARCH")
  R=$CACHE/run-$ARCH LOG=$CACHE/log-$ARCH ROWS=() FAILED=0
  rm -rf --one-file-system "$R" "$LOG"; mkdir -p "$LOG"
  local t0=$SECONDS
  cp -a "$CACHE/base-$ARCH" "$R"
  local copy_s=$((SECONDS - t0))
  mnt -t proc proc "$R/proc"
  mnt -t sysfs sys "$R/sys"
  mnt --bind /dev "$R/dev"
  mnt --bind /dev/pts "$R/dev/pts"
  mnt -t tmpfs shm "$R/dev/shm"
  mnt -t tmpfs run "$R/run"
  if [ "$foreign" -eq 1 ]; then
    # qemu-user hands an arm64 program this machine's /proc/cpuinfo (x86), and ARM code that
    # reads its CPU from there (onnxruntime's cpuinfo) crashes on it; the root sees what a
    # Raspberry Pi 5's kernel shows instead (four Cortex-A76)
    pi_cpuinfo > "$CACHE/cpuinfo-pi5"
    mnt --bind "$CACHE/cpuinfo-pi5" "$R/proc/cpuinfo"
  fi
  cp /etc/resolv.conf /etc/hosts "$R/etc/"
  hostname > "$R/etc/hostname"
  [ -f /etc/apt/sources.list.d/debian.sources ] && cp /etc/apt/sources.list.d/debian.sources "$R/etc/apt/sources.list.d/" \
    && : > "$R/etc/apt/sources.list"
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$R/usr/local/share/ca-this-network.crt"
  printf '[global]\ncert = /usr/local/share/ca-this-network.crt\n' > "$R/etc/pip.conf"
  CHECKOUT=/
  # what Raspberry Pi OS Lite has out of the box: sudo, CA certificates, the user pi
  step "the Pi look-alike: sudo, ca-certificates, user pi" root '[ $rc -eq 0 ]' \
    "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q sudo ca-certificates \
     && useradd -m -s /bin/bash -G sudo,audio pi && echo 'pi ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/010_pi-nopasswd"
  CHECKOUT=/home/pi/deskline
  mkdir -p "$R$CHECKOUT"
  git -C "$SRC" archive HEAD | tar -x -C "$R$CHECKOUT"
  chroot "$R" chown -R "$RUNAS:" "$CHECKOUT"

  evidence_for_next 'echo "$(grep -c "^== demo call" <<<"$out") demo calls replayed; $(grep -E "^ *[0-9.]+ +hang up|^ *[0-9.]+ .*PLAY" <<<"$out" | wc -l) phrase and hang-up lines"'
  step "README: install and run (demo)" "$RUNAS" '[ $rc -eq 0 ] && [ $(grep -c "^== demo call" <<<"$out") -ge 6 ]' "$README_INSTALL"
  if [ "$ARCH" = arm64 ]; then
    step "README route has a GPIO driver (lgpio, aarch64 wheel)" "$RUNAS" '[ $rc -eq 0 ]' \
      '.venv/bin/python -c "import lgpio, gpiozero.pins.lgpio as f; print(\"lgpio\", lgpio.__file__)"'
  else
    step "README route on a PC: no Pi GPIO driver pulled in" "$RUNAS" '[ $rc -eq 0 ] && grep -q "not installed" <<<"$out"' \
      '.venv/bin/python -c "import importlib.util as u; print(\"lgpio\", \"installed\" if u.find_spec(\"lgpio\") else \"not installed\")"'
  fi
  evidence_for_next 'grep -c "is absent from the" <<<"$out" | sed "s/$/ setuptools warnings about package data/"'
  step "building the package: no setuptools warnings" "$RUNAS" '[ $rc -eq 0 ] && ! grep -q "is absent from the" <<<"$out"' \
    '.venv/bin/pip wheel --no-deps -v -w /tmp/wheel-check . 2>&1'
  if [ "$run_tests" -eq 1 ]; then
    evidence_for_next 'grep -E "^=+ .*(passed|failed).* =+$" <<<"$out" | tail -n 1'
    step "README: the test command" "$RUNAS" '[ $rc -eq 0 ] && grep -qE "^=+ [0-9]+ passed" <<<"$out" && ! grep -qE "[0-9]+ (failed|error)" <<<"$(tail -n 1 <<<"$out")"' \
      "$README_TEST"
  fi

  # the desk route: install.sh as the Pi's owner would run it
  evidence_for_next 'grep "^install.sh:" <<<"$out" | tr "\n" " "'
  step "sudo ./install.sh" "$RUNAS" '[ $rc -eq 0 ] && [ -x '"$R"'/opt/deskline/venv/bin/deskline ]' "sudo ./install.sh"
  evidence_for_next 'echo "$out" | tr "\n" " "'
  # python-evdev (the USB keypad) has no wheels: install.sh brings gcc and python3-dev to build it
  step "settings root:deskline 0640, /var/lib/deskline deskline 0750, python-evdev built" root '[ $rc -eq 0 ] && grep -q "root deskline 640" <<<"$out" && grep -q "deskline deskline 750" <<<"$out" && grep -q "evdev: imports" <<<"$out"' \
    'stat -c "%n %U %G %a" /etc/deskline/deskline.toml /var/lib/deskline; dpkg -s python3-dev >/dev/null 2>&1 && echo "python3-dev: installed" || echo "python3-dev: not installed"; command -v gcc cc >/dev/null && echo "compiler: $(command -v gcc cc | head -1)" || echo "compiler: none"; /opt/deskline/venv/bin/python -c "import evdev" && echo "evdev: imports"'
  evidence_for_next 'grep -c "^== demo call" <<<"$out" | sed "s/$/ demo calls/"'
  step "deskline demo from /opt/deskline" pi '[ $rc -eq 0 ] && [ $(grep -c "^== demo call" <<<"$out") -ge 6 ]' \
    "cd /tmp && /opt/deskline/venv/bin/deskline demo"
  if [ "$ARCH" = arm64 ]; then
    step "the service's venv has lgpio" root '[ $rc -eq 0 ]' \
      '/opt/deskline/venv/bin/python -c "import lgpio; print(\"lgpio\", lgpio.__file__)"'
  fi
  # a user outside the deskline group: one line for the desk commands, built-in settings for
  # simulate
  evidence_for_next 'tr "\n" " " <<<"$out"'
  step "doctor as pi outside the deskline group: one line, what to do" pi '[ $rc -eq 1 ] && grep -q "sudo usermod -aG deskline pi" <<<"$out"' \
    "cd /tmp && /opt/deskline/venv/bin/deskline doctor --listen-s 0 >/tmp/doctor.out 2>&1; rc=\$?; grep settings /tmp/doctor.out; exit \$rc"
  evidence_for_next 'grep -v "^{" <<<"$out" | tr "\n" " "'
  step "simulate as pi outside the group: built-in settings" pi '[ $rc -eq 0 ] && grep -q "built-in settings" <<<"$out" && grep -q "\"summary\"" <<<"$out"' \
    "cd /tmp && /opt/deskline/venv/bin/deskline simulate $CHECKOUT/tests/fixtures/cmu_arctic_us_aew_a0001.wav --json 2>&1"
  # the installer sets the desk, and lets pi read the settings as install.sh said
  step "set the desk, sudo usermod -aG deskline pi" root '[ $rc -eq 0 ]' \
    "sed -i 's/^hotline_name = \"\"/hotline_name = \"12385热线\"/; s/^agent_no = \"\"/agent_no = \"1001\"/' /etc/deskline/deskline.toml && usermod -aG deskline pi && id pi"
  # doctor on the fake desk, as the unit runs the service and as pi: a root has no sound card,
  # so that is the one check that must fail (with its advice); every other one passes
  local doctor_ok='[ $rc -eq 1 ] && [ $(grep -c "^FAIL" <<<"$out") -eq 1 ] && grep -q "^FAIL  sound card: .*plugged in" <<<"$out" && grep -q "^ok    settings:" <<<"$out" && grep -q "^ok    hook switch" <<<"$out" && grep -q "^ok    phrases:" <<<"$out" && grep -q "^ok    call record:" <<<"$out"'
  evidence_for_next 'grep -E "^(ok|warn|FAIL)" <<<"$out" | clip 60 | tr "\n" ";"'
  step "doctor on the fake desk, as the service user" root "$doctor_ok" \
    "cd /tmp && DESKLINE_HW=fake runuser -u deskline -- /opt/deskline/venv/bin/deskline doctor --listen-s 0"
  evidence_for_next 'grep -E "^(ok|warn|FAIL)" <<<"$out" | clip 60 | tr "\n" ";"'
  step "doctor on the fake desk, as pi in the deskline group" pi "$doctor_ok" \
    "cd /tmp && DESKLINE_HW=fake /opt/deskline/venv/bin/deskline doctor --listen-s 0"
  evidence_for_next 'tr "\n" " " <<<"$out"'
  step "sudo ./install.sh --uninstall: service gone, settings and record kept" "$RUNAS" '[ $rc -eq 0 ] && [ ! -e '"$R"'/opt/deskline ] && [ -f '"$R"'/etc/deskline/deskline.toml ] && [ -d '"$R"'/var/lib/deskline ]' \
    "sudo ./install.sh --uninstall"

  # what pip built from source (a wheel it built from an sdist lands in its cache)
  local built
  built=$( (find "$R/root/.cache/pip/wheels" "$R/home/pi/.cache/pip/wheels" -name '*.whl' -printf '%f\n' 2>/dev/null || true) | sort -u | tr '\n' ' ')
  local pkgs
  pkgs=$( (in_root "$RUNAS" '.venv/bin/python -m pip list --format=freeze 2>/dev/null' || true) | (grep -iE '^(numpy|soundfile|soxr|sounddevice|cffi|gpiozero|lgpio|onnxruntime|pyserial|pypinyin)==' || true) | tr '\n' ' ')
  local pyver; pyver=$(chroot "$R" python3 --version 2>&1)
  local glibc; glibc=$(chroot "$R" /usr/bin/ldd --version 2>&1 | awk 'NR == 1 {print $NF}')
  write_results "$ARCH" "$base" "$copy_s" "$run_tests" "$built" "$pkgs" "$pyver" "$glibc" "$foreign"
  cleanup
  R=""
}

write_results() {
  local arch=$1 base=$2 copy_s=$3 run_tests=$4 built=$5 pkgs=$6 pyver=$7 glibc=$8 foreign=$9
  local out=$SRC/bench/results/fresh_roots_$arch.md total=0 r s
  for r in "${ROWS[@]}"; do s=$(awk -F'|' '{print $4}' <<<"$r"); total=$(awk "BEGIN {print $total + $s}"); done
  {
    echo "# A new user's first hour on a fresh Debian $SUITE root ($arch)"
    echo
    echo "Reproduce (root; debootstrap once, cached under $CACHE):"
    echo
    echo '```'
    echo "sudo bash bench/fresh_roots.sh --arch $arch"
    echo '```'
    echo
    echo "Tree: commit $COMMIT (git archive HEAD$([ "$DIRTY" -gt 0 ] && echo "; the work tree had $DIRTY uncommitted changes, not tested")). Run $(date -u '+%F %H:%M') UTC on $(uname -m), $(nproc) cores$([ "$foreign" -eq 1 ] && echo ", the $arch root through $(qemu-aarch64-static --version | sed -n 1p) (user emulation: every step is several times slower than on a Pi)"). Root: debootstrap --variant=minbase $SUITE from $MIRROR (made ${base% *} in ${base#* } s, copied afresh in $copy_s s); $pyver, glibc $glibc. Steps run as $([ "$foreign" -eq 1 ] && echo "root (sudo cannot raise privileges under qemu-user)" || echo "the user pi, with sudo as on Raspberry Pi OS")."
    echo
    echo "The README's commands, verbatim:"
    echo
    echo '```sh'
    echo "$README_INSTALL"
    echo "$README_TEST"
    echo '```'
    echo
    echo "| step | verdict | seconds | evidence |"
    echo "|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Total $(printf %.0f "$total") s. Failures: $([ "$FAILED" -eq 0 ] && echo none || echo "$FAILED (see the FAIL rows)")."
    [ "$run_tests" -eq 1 ] || echo "The README's test command was not run on $arch (--tests runs it; under qemu-user it takes hours)."
    echo
    echo "Built from source by pip (wheels it made from sdists): ${built:-none; every dependency came as a binary wheel}. deskline itself is built from the checkout (pure Python)."
    echo
    echo "Installed in the README's venv: ${pkgs:-?}"
  } > "$out"
  say "$arch: wrote $out ($FAILED failed)"
}

rc=0
for a in "${archs[@]}"; do
  run_arch "$a"
  [ "$FAILED" -eq 0 ] || rc=1
done
exit $rc
