#!/usr/bin/env bash
# Inside the VM of bench/systemd_vm.sh: a real ALSA card (snd-aloop), install.sh, then the
# unit's behaviour under systemd. Writes $1/out/report.md (verdict table, then evidence).
set -uo pipefail

SHARE=${1:-/mnt/share}
OUT=$SHARE/out
mkdir -p "$OUT"
TABLE=$OUT/table.md
DETAIL=$OUT/detail.md
: >"$TABLE"; : >"$DETAIL"
U=deskline.service
SOCK=/run/deskline/fake-hw.sock
CONF=/etc/deskline/deskline.toml
HZ=$(getconf CLK_TCK)
exec > >(tee -a "$OUT/guest.log") 2>&1

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
prop() { systemctl show -p "$1" --value "$U"; }
props() { systemctl show -p ActiveState,SubState,Result,NRestarts,MainPID,ExecMainStatus,ExecMainCode,StatusText "$U"; }
verdict() { echo "| $1 | $2 | $3 |" >>"$TABLE"; echo "[$2] $1: $3"; }
section() { printf '\n## %s\n\n' "$1" >>"$DETAIL"; }
text() { printf '%s\n' "$*" >>"$DETAIL"; }
code() { { echo '```'; cat; echo '```'; } >>"$DETAIL"; }
cursor() { journalctl -n0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p'; }
jsince() { journalctl -u "$U" --after-cursor="$1" -o short-precise --no-pager -q; }
fake() {  # one line of the fake desk's control protocol; prints the reply
  python3 - "$SOCK" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.write(sys.argv[2] + "\n"); f.flush()
print(f.readline().strip())
EOF
}
wait_running() {  # until active/running with a MainPID other than $1, at most $2 s; echo seconds
  local old=$1 limit=$2 t0; t0=$(now)
  while :; do
    if [ "$(prop ActiveState)/$(prop SubState)" = active/running ] && [ "$(prop MainPID)" != "$old" ] \
       && [ "$(prop MainPID)" != 0 ]; then since "$t0"; return 0; fi
    if python3 -c "import sys; sys.exit(float(sys.argv[1]) < float(sys.argv[2]))" "$(since "$t0")" "$limit"; then
      echo "timeout"; return 1; fi
    sleep 0.1
  done
}
ticks() { awk '{print $14 + $15}' <(sed 's/.*) //; s/^/x x /' "/proc/$1/stat"); }
cg_usec() { awk '/^usage_usec/ {print $2}' "/sys/fs/cgroup/system.slice/$U/cpu.stat"; }
measure() {  # measure PID SECONDS LABEL: CPU share of the main process and the unit's cgroup, RSS
  local pid=$1 secs=$2 label=$3 t0 k0 c0 k1 c1 el rss maxrss=0 i
  t0=$(now); k0=$(ticks "$pid"); c0=$(cg_usec)
  for ((i = 0; i < secs; i++)); do
    sleep 1
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    [ "$rss" -gt "$maxrss" ] && maxrss=$rss
  done
  k1=$(ticks "$pid"); c1=$(cg_usec); el=$(since "$t0")
  python3 - "$label" "$el" "$k0" "$k1" "$c0" "$c1" "$HZ" "$maxrss" "$pid" <<'EOF' | tee -a "$OUT/figures.txt"
import sys
label, el, k0, k1, c0, c1, hz, maxrss, pid = sys.argv[1:]
el = float(el)
proc = (int(k1) - int(k0)) / int(hz) / el * 100
cg = (int(c1) - int(c0)) / 1e6 / el * 100
st = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status"))
g = lambda k: st[k].strip()
print(f"{label}: {el:.1f} s, main process CPU {proc:.2f} % of one core (utime+stime), "
      f"unit cgroup {cg:.2f} %; VmRSS {g('VmRSS')} (max over the window {maxrss} kB), "
      f"VmHWM {g('VmHWM')}, threads {g('Threads')}")
EOF
}

ACCEL=$(cat "$SHARE/accel" 2>/dev/null || echo kvm)
foot() {  # verdict on a measure line: RSS < 60 MB always; CPU < 3 % only on a real (KVM) CPU
  local v
  v=$(python3 -c "
import sys, re
s, accel = sys.argv[1], sys.argv[2]
c = float(re.search(r'CPU ([0-9.]+)', s)[1]); r = int(re.search(r'max over the window ([0-9]+)', s)[1])
ok = r < 60000 and (accel != 'kvm' or c < 3)
print(('PASS' if ok else 'FAIL') + ('' if accel == 'kvm' else ' (RSS only: CPU emulated)'))" "$2" "$ACCEL")
  verdict "$1" "$v" "$2"
}

# --- the machine ------------------------------------------------------------------------------
section "The VM"
{ uname -a; systemctl --version | head -1; python3 --version; cat /etc/debian_version; nproc;
  grep MemTotal /proc/meminfo; echo "tree: $(cat "$SHARE/commit")"; } | code
verdict "VM boots with systemd as PID 1" "PASS" "$(uname -r), $(systemctl --version | head -1)"

# --- a real ALSA card ---------------------------------------------------------------------------
section "A real ALSA card: snd-aloop"
modprobe snd-aloop 2>&1 | code
{ echo '$ cat /proc/asound/cards'; cat /proc/asound/cards; ls -l /dev/snd; } 2>&1 | code
if grep -q Loopback /proc/asound/cards; then
  verdict "modprobe snd-aloop gives an ALSA card" PASS "card 'Loopback'"
else
  verdict "modprobe snd-aloop gives an ALSA card" FAIL "no Loopback card"
fi

# --- install.sh, unmodified, on a fresh Debian ------------------------------------------------
section "install.sh on a fresh Debian bookworm"
mkdir -p /root/src && tar -xf "$SHARE/src.tar" -C /root/src
t0=$(now)
/root/src/deskline/install.sh >"$OUT/install.log" 2>&1
rc=$?
el=$(since "$t0")
text "\`/root/src/deskline/install.sh\` (unmodified checkout, network through qemu's user-mode NAT): exit $rc in $el s. Its output, without apt's progress lines:"
grep -v -E '^(Get:|Selecting|Preparing|Unpacking|Setting up|Processing|Fetched|Reading|\(Reading|Building|Hit:|Ign:)' "$OUT/install.log" | tail -40 | code
finish() {
  { echo "## Verdicts"; echo; echo "| check | verdict | evidence |"; echo "|---|---|---|"; cat "$TABLE"; cat "$DETAIL"; } >"$OUT/report.md.tmp"
  mv "$OUT/report.md.tmp" "$OUT/report.md"
  sync
}
if [ "$rc" = 0 ]; then
  verdict "install.sh on a fresh Debian (example config)" PASS "exit 0 in $el s (apt + venv + pip from PyPI)"
elif [ -x /opt/deskline/venv/bin/deskline ] && [ -e /etc/systemd/system/$U ]; then
  verdict "install.sh on a fresh Debian (example config)" FAIL "exit $rc after $el s: installed and enabled, but the service did not start (see evidence)"
else
  verdict "install.sh on a fresh Debian (example config)" FAIL "exit $rc (see evidence); nothing else checked"
  finish; exit 1
fi
/opt/deskline/venv/bin/python "$SHARE/calib.py" >"$OUT/calib.txt" 2>&1
sleep 8
text "Right after install.sh, with the example config (\`[hw] backend = \"gpiozero\"\`, \`[audio] card = \"\"\`) on a machine without GPIO:"
{ props; echo; journalctl -u "$U" -o short-precise --no-pager -q | tail -15; } | code

# --- configure: the card by ALSA name, the fake desk by a drop-in --------------------------------
section "Configured for the VM and started"
sed -i 's/^card = ""/card = "Loopback"/; s/^hotline_name = ""/hotline_name = "测试热线"/; s/^agent_no = ""/agent_no = "007"/' "$CONF"
mkdir -p /etc/systemd/system/$U.d
printf '[Service]\nEnvironment=DESKLINE_HW=fake\n' >/etc/systemd/system/$U.d/fake-desk.conf
{ echo "\$ grep -n -E '^(card|hotline_name|agent_no) ' $CONF"; grep -n -E '^(card|hotline_name|agent_no) ' "$CONF";
  echo "\$ cat /etc/systemd/system/$U.d/fake-desk.conf"; cat /etc/systemd/system/$U.d/fake-desk.conf; } | code
systemctl daemon-reload
systemctl stop "$U"; systemctl reset-failed "$U"
t0=$(now)
/root/src/deskline/install.sh >"$OUT/install2.log" 2>&1
rc=$?
el=$(since "$t0")
sleep 1
{ echo "\$ ./install.sh   (again, now that the config suits this machine) -> exit $rc after $el s";
  cat "$OUT/install2.log"; props; } | code
if [ "$rc" = 0 ] && [ "$(prop SubState)" = running ]; then
  verdict "install.sh again with a config that suits the machine" PASS "exit 0 in $el s, kept the settings, service running"
else
  verdict "install.sh again with a config that suits the machine" FAIL "exit $rc, $(prop ActiveState)/$(prop SubState)"
fi
systemctl stop "$U"; systemctl reset-failed "$U"
c=$(cursor); t0=$(now)
systemctl start "$U"; src=$?
el=$(since "$t0")
sleep 1
{ echo "\$ systemctl start $U   -> exit $src after $el s (Type=notify: returns at READY=1)"; props;
  echo; jsince "$c"; echo; systemctl status "$U" --no-pager -n0 2>&1 | head -12; } | code
if [ "$src" = 0 ] && [ "$(prop SubState)" = running ] && prop StatusText | grep -q serving; then
  verdict "starts, READY=1, active (running)" PASS "systemctl start returned in $el s; StatusText: $(prop StatusText)"
else
  verdict "starts, READY=1, active (running)" FAIL "$(props | tr '\n' ' ')"
fi
if jsince "$c" | grep -q "espeak-ng is not installed"; then
  verdict "install.sh installs what the greeting needs" FAIL "with [desk] hotline_name set the greeting needs espeak-ng, which install.sh does not install: $(jsince "$c" | grep -m1 -o 'phrase .*espeak-ng is not installed[^)]*)')"
  { echo '$ apt-get install -y espeak-ng && systemctl restart deskline'; apt-get install -y -q espeak-ng 2>&1 | tail -2;
    c2=$(cursor); systemctl restart "$U"; echo "restart: exit $?"; jsince "$c2"; } | code
elif jsince "$c" | grep -q "cannot be played"; then
  verdict "every prepared phrase can be played" FAIL "$(jsince "$c" | grep -m1 'cannot be played')"
else
  verdict "install.sh installs what the greeting needs" PASS "all prepared phrases assembled at start (hotline_name set)"
fi
PID=$(prop MainPID)

section "deskline doctor (as the deskline user)"
runuser -u deskline -- env DESKLINE_HW=fake /opt/deskline/venv/bin/deskline doctor 2>&1 | tail -30 | code

# --- footprint over a real ALSA card -------------------------------------------------------------
section "Footprint over a real ALSA card (no PulseAudio in the VM)"
sleep 5
idle=$(measure "$PID" 30 "idle (on-hook)")
text "Idle, 30 s, on-hook, card open and running: $idle"
foot "footprint idle" "$idle"

text
text "A call: the fake desk rings, the handset is lifted (its control socket), speech from tests/fixtures/silero_test.wav is played into the card's capture side (aplay on plughw:Loopback,1,0 arrives at hw:Loopback,0,0, which the service reads), and what the service plays is recorded on the other side (arecord on plughw:Loopback,1,0)."
c=$(cursor)
aplay -q -D plughw:Loopback,1,0 /root/src/deskline/tests/fixtures/silero_test.wav 2>"$OUT/aplay.err" &
APLAY=$!
arecord -q -D plughw:Loopback,1,0 -f S16_LE -c 2 -r 48000 -d 12 "$OUT/played.wav" 2>"$OUT/arecord.err" &
AREC=$!
{ echo "ring on: $(fake 'ring on')"; sleep 1.5; echo "hook off: $(fake 'hook off')"; sleep 0.3;
  echo "ring off: $(fake 'ring off')"; sleep 1; echo "state: $(fake state)"; } | code
call=$(measure "$PID" 30 "in a call (off-hook, speech on the line)")
text "In the call, 30 s: $call"
foot "footprint in a call" "$call"
wait "$AREC"
{ echo "state: $(fake state)"; echo "hook on: $(fake 'hook on')"; } | code
kill "$APLAY" 2>/dev/null; wait "$APLAY" 2>/dev/null
sleep 2
text "Journal of the call:"
jsince "$c" | code
played=$(/opt/deskline/venv/bin/python - "$OUT/played.wav" <<'EOF' 2>&1
import sys, numpy as np, soundfile as sf
x, fs = sf.read(sys.argv[1])
x = x.reshape(len(x), -1)
frames = x[: len(x) // 4800 * 4800].reshape(-1, 4800, x.shape[1])
loud = (np.sqrt((frames ** 2).mean(axis=1)) > 10 ** (-50 / 20)).any(axis=1)
rms = 20 * np.log10(np.sqrt((x ** 2).mean(axis=0)) + 1e-12) + 3.01
print(f"{len(x) / fs:.1f} s recorded from the card's output side; per channel RMS "
      f"{', '.join(f'{r:.1f}' for r in rms)} dBov; sound above -50 dBFS in "
      f"{loud.sum()} of {len(loud)} 0.1 s frames, first at {np.argmax(loud) / 10 if loud.any() else float('nan'):.1f} s")
EOF
)
text "What the service played into the card (the arecord side): $played"
if echo "$played" | grep -q 'sound above -50 dBFS in [1-9]'; then
  verdict "a phrase reaches the real ALSA card" PASS "$played"
else
  verdict "a phrase reaches the real ALSA card" FAIL "$played"
fi
text "The call record afterwards (\`deskline calls\` as the deskline user):"
runuser -u deskline -- /opt/deskline/venv/bin/deskline calls --config "$CONF" 2>&1 | tail -8 | code

# --- watchdog: SIGSTOP ------------------------------------------------------------------------------
section "Watchdog: SIGSTOP the main process"
PID=$(prop MainPID); n0=$(prop NRestarts); c=$(cursor)
kill -STOP "$PID"; t0=$(now)
el=$(wait_running "$PID" 60)
sleep 1
{ echo "\$ kill -STOP $PID   at $(date -d @"$t0" +%T.%N) (NRestarts was $n0; WatchdogSec=$(prop WatchdogUSec))";
  echo "running again with a new MainPID after $el s"; props; echo; jsince "$c"; } | code
n1=$(prop NRestarts)
if [ "$el" != timeout ] && [ "$n1" -gt "$n0" ] && jsince "$c" | grep -qi watchdog; then
  verdict "watchdog restarts a stopped process" PASS "restarted after $el s (WatchdogSec 10 s + RestartSec 2 s), NRestarts $n0 -> $n1"
else
  verdict "watchdog restarts a stopped process" FAIL "after $el s NRestarts $n0 -> $n1"
fi

# --- kill -9 ------------------------------------------------------------------------------------
section "kill -9 (Restart=on-failure)"
sleep 3
PID=$(prop MainPID); n0=$(prop NRestarts); c=$(cursor)
kill -9 "$PID"
el=$(wait_running "$PID" 30)
sleep 1
{ echo "\$ kill -9 $PID   (NRestarts was $n0)"; echo "running again after $el s"; props; echo; jsince "$c"; } | code
n1=$(prop NRestarts)
[ "$el" != timeout ] && [ "$n1" -gt "$n0" ] \
  && verdict "kill -9 is restarted" PASS "running again after $el s, NRestarts $n0 -> $n1" \
  || verdict "kill -9 is restarted" FAIL "after $el s NRestarts $n0 -> $n1"

# --- the card goes away -----------------------------------------------------------------------------
section "The sound card removed while the service runs"
sleep 3
PID=$(prop MainPID); n0=$(prop NRestarts); c=$(cursor)
{ echo '$ rmmod snd_aloop'; rmmod snd_aloop 2>&1; echo "exit $?"; } | code
if grep -q Loopback /proc/asound/cards; then
  dev=$(basename "$(readlink -f /sys/bus/platform/drivers/snd_aloop/snd_aloop.0)")
  { echo "\$ echo $dev > /sys/bus/platform/drivers/snd_aloop/unbind";
    echo "$dev" >/sys/bus/platform/drivers/snd_aloop/unbind 2>&1; echo "exit $?";
    echo '$ cat /proc/asound/cards'; cat /proc/asound/cards; } | code
  how=unbind
else
  how=rmmod
fi
sleep 25
pid_after=$(prop MainPID); n1=$(prop NRestarts)
{ echo "25 s after the card went ($how):"; props; echo; jsince "$c"; } | code
if [ "$pid_after" = "$PID" ] && [ "$n1" = "$n0" ] && [ "$(prop SubState)" = running ]; then
  verdict "card removed: service stays up" PASS "same PID $PID, NRestarts $n1, 25 s (> WatchdogSec) after the card went ($how)"
else
  verdict "card removed: service stays up" FAIL "PID $PID -> $pid_after, NRestarts $n0 -> $n1"
fi
c=$(cursor)
if [ "$how" = unbind ]; then echo snd_aloop.0 >/sys/bus/platform/drivers/snd_aloop/bind; else modprobe snd-aloop; fi
sleep 8
{ echo "card back ($how reversed), 8 s later:"; cat /proc/asound/cards; props; echo; jsince "$c"; } | code
if jsince "$c" | grep -q "is back" && [ "$(prop MainPID)" = "$PID" ]; then
  verdict "card back: service reopens it" PASS "same PID, journal says the card is back"
else
  verdict "card back: service reopens it" FAIL "see evidence"
fi

# --- the USB keypad: uinput tests, then a uinput keypad under the hardened unit -------------------
section "The USB keypad through uinput"
{ echo '$ modprobe uinput'; modprobe uinput 2>&1; echo "exit $?"; ls -l /dev/uinput 2>&1; } | code
/opt/deskline/venv/bin/pip install -q pytest hypothesis >"$OUT/pytest-install.log" 2>&1
( cd /root/src/deskline && /opt/deskline/venv/bin/python -m pytest -p no:cacheprovider -q -rs \
    tests/service/test_keypad_uinput.py tests/service/test_keypad.py tests/hw/test_keypad_role.py \
    tests/test_keypad_map.py ) >"$OUT/keypad_tests.txt" 2>&1
krc=$?
text "The keypad's tests (tests/service/test_keypad_uinput.py makes a virtual keyboard with evdev.UInput; as root, in the installed venv, pytest and hypothesis added): exit $krc"
tail -25 "$OUT/keypad_tests.txt" | code
kline=$(grep -E '[0-9]+ (passed|failed)' "$OUT/keypad_tests.txt" | tail -1)
if [ "$krc" = 0 ] && ! grep -q 'SKIPPED' "$OUT/keypad_tests.txt"; then
  verdict "keypad tests through uinput" PASS "$kline, none skipped"
else
  verdict "keypad tests through uinput" FAIL "exit $krc: $kline"
fi

text
text "The service under the shipped unit with a uinput keypad (usb:1209:0001) and, beside it, a second virtual keyboard standing for the agent's own. [keypad] is added to the settings and install.sh run again (it writes the udev rule); the keypad's KP1 is pressed during a call, the keypad is destroyed (unplugged) and made again."
cat >/run/vkbd.py <<'PY'
import os, sys, time
from evdev import UInput, ecodes as e
# argv: vendor product name; taps KEY_KP1 whenever /run/vkbd.tap appears; ends when killed
ui = UInput({e.EV_KEY: [e.KEY_KP1, e.KEY_KP2, e.KEY_NUMLOCK, e.KEY_A]}, name=sys.argv[3],
            vendor=int(sys.argv[1], 16), product=int(sys.argv[2], 16))
while True:
    if sys.argv[3].startswith("vm keypad") and os.path.exists("/run/vkbd.tap"):
        os.unlink("/run/vkbd.tap")
        ui.write(e.EV_KEY, e.KEY_KP1, 1); ui.syn(); time.sleep(0.1)
        ui.write(e.EV_KEY, e.KEY_KP1, 0); ui.syn()
    time.sleep(0.05)
PY
/opt/deskline/venv/bin/python /run/vkbd.py 1209 0001 "vm keypad" & KPD=$!
/opt/deskline/venv/bin/python /run/vkbd.py 1209 0002 "agent keyboard" & AGK=$!
sleep 2
cp -p "$CONF" "$CONF.nokeypad"
printf '\n[keypad]\ndevice = "usb:1209:0001"\nbackend = "evdev"\nmodifier = "KEY_NUMLOCK"\n[keypad.keys]\nKEY_KP1 = "phrase:wrong_number"\n' >>"$CONF"
c=$(cursor)
/root/src/deskline/install.sh >"$OUT/install-keypad.log" 2>&1; irc=$?
sleep 5
kp_node=$(readlink -f /dev/input/deskline-keypad 2>/dev/null)
other=$(for n in /sys/class/input/event*; do [ "$(cat "$n/device/name" 2>/dev/null)" = "agent keyboard" ] && echo "/dev/input/${n##*/}"; done)
{ echo "install.sh again: exit $irc"; grep -i keypad "$OUT/install-keypad.log";
  echo '$ cat /etc/udev/rules.d/70-deskline-keypad.rules'; cat /etc/udev/rules.d/70-deskline-keypad.rules;
  echo "\$ ls -lL /dev/input/deskline-keypad $other"; ls -lL /dev/input/deskline-keypad "$other" 2>&1;
  echo "\$ grep DeviceAllow /etc/systemd/system/$U"; grep DeviceAllow /etc/systemd/system/$U; } | code
kp_read=$(runuser -u deskline -- /opt/deskline/venv/bin/python -c "import sys; open(sys.argv[1], 'rb').close(); print('read')" "$kp_node" 2>&1 | tail -1)
ag_read=$(runuser -u deskline -- /opt/deskline/venv/bin/python -c "import sys; open(sys.argv[1], 'rb').close(); print('read')" "$other" 2>&1 | tail -1)
text "As the deskline user: opening the keypad $kp_node: $kp_read; opening the agent's keyboard $other: $ag_read"
if [ "$kp_read" = read ] && [ "$ag_read" != read ]; then
  verdict "keypad: udev rule gives the service that device and no other" PASS "deskline reads $kp_node; the other keyboard $other: $ag_read"
else
  verdict "keypad: udev rule gives the service that device and no other" FAIL "keypad: $kp_read; other keyboard: $ag_read"
fi
PID=$(prop MainPID)
fake 'hook off' >/dev/null; sleep 2
touch /run/vkbd.tap; sleep 4
fake 'hook on' >/dev/null; sleep 2
{ jsince "$c" | grep -iE 'keypad|error|Traceback'; } | code
played=$(runuser -u deskline -- /opt/deskline/venv/bin/deskline calls --config "$CONF" --json 2>/dev/null | grep -o '"phrase": "wrong_number"' | head -1)
if jsince "$c" | grep -qE "keypad usb:1209:0001 (open|is back)" && [ -n "$played" ]; then
  verdict "keypad: a key pressed during a call plays its phrase (under the unit)" PASS "journal: $(jsince "$c" | grep -m1 -oE 'keypad usb:1209:0001 (open|is back).*'); the call record has wrong_number"
else
  verdict "keypad: a key pressed during a call plays its phrase (under the unit)" FAIL "see evidence (played: ${played:-none})"
fi
c=$(cursor); t_kill=$(( $(date +%s) - 1 ))
kill "$KPD"; wait "$KPD" 2>/dev/null
sleep 15
gone_pid=$(prop MainPID); gone_status=$(prop StatusText)
/opt/deskline/venv/bin/python /run/vkbd.py 1209 0001 "vm keypad" & KPD=$!
sleep 6
{ echo "unplugged (the virtual keypad destroyed), 15 s later: MainPID $gone_pid, StatusText: $gone_status";
  echo "made again, 6 s later:"; props; echo;
  journalctl -u "$U" --since "@$t_kill" -o short-precise -q --no-pager | grep -iE 'keypad|error|Traceback'; } | code
if [ "$gone_pid" = "$PID" ] && [ "$(prop MainPID)" = "$PID" ] && echo "$gone_status" | grep -q "keypad .* missing" \
   && [ "$(journalctl -u "$U" --since "@$t_kill" -q --no-pager | grep -c 'is gone')" = 1 ] \
   && journalctl -u "$U" --since "@$t_kill" -q --no-pager | grep -q 'keypad usb:1209:0001 is back'; then
  verdict "keypad unplugged and back: service stays up, picks it up" PASS "same PID $PID; StatusText while gone: $gone_status; journal: gone once, back"
else
  verdict "keypad unplugged and back: service stays up, picks it up" FAIL "PID $PID -> $gone_pid -> $(prop MainPID); status: $gone_status"
fi
kill "$KPD" "$AGK" 2>/dev/null; wait "$KPD" "$AGK" 2>/dev/null
mv "$CONF.nokeypad" "$CONF"
systemctl restart "$U"; sleep 3

# --- systemctl stop ------------------------------------------------------------------------------
section "systemctl stop"
sleep 2
c=$(cursor); t0=$(now)
systemctl stop "$U"
el=$(since "$t0")
{ echo "\$ systemctl stop $U   -> returned after $el s"; props; echo; jsince "$c"; } | code
if [ "$(prop ExecMainStatus)" = 0 ] && [ "$(prop Result)" = success ] \
   && python3 -c "import sys; sys.exit(float(sys.argv[1]) > 2.0)" "$el"; then
  verdict "systemctl stop: exit 0 within 2 s" PASS "$el s, ExecMainStatus 0, Result success"
else
  verdict "systemctl stop: exit 0 within 2 s" FAIL "$el s, ExecMainStatus $(prop ExecMainStatus), Result $(prop Result)"
fi

# --- a configuration error --------------------------------------------------------------------------
section "A configuration error (an unknown key)"
cp -p "$CONF" "$CONF.good"
sed -i 's/^\(agent_no = .*\)$/\1\nagent_nr = "007"/' "$CONF"
n0=$(prop NRestarts); c=$(cursor)
systemctl start "$U"; src=$?
sleep 12
{ echo '$ grep -n agent_n /etc/deskline/deskline.toml'; grep -n agent_n "$CONF";
  echo "\$ systemctl start $U   -> exit $src; 12 s later:"; props; echo; jsince "$c"; } | code
nlines=$(jsince "$c" | grep -c 'agent_nr')
nsched=$(jsince "$c" | grep -c 'Scheduled restart')
if [ "$(prop ExecMainStatus)" = 78 ] && [ "$(prop NRestarts)" = 0 ] && [ "$nsched" = 0 ] && [ "$(prop ActiveState)" = failed ]; then
  verdict "config error: exit 78, no restart loop" PASS "ExecMainStatus 78, ActiveState failed, NRestarts 0 and no 'Scheduled restart' in 12 s (RestartPreventExitStatus=78); $nlines journal line(s) name the key"
else
  verdict "config error: exit 78, no restart loop" FAIL "ExecMainStatus $(prop ExecMainStatus), ActiveState $(prop ActiveState), NRestarts $(prop NRestarts), $nsched scheduled restarts in 12 s"
fi
mv "$CONF.good" "$CONF"
systemctl reset-failed "$U"; systemctl start "$U"

# --- what ProcSubset=pid hides from gpiozero ---------------------------------------------------------
section "ProcSubset=pid and gpiozero's Pi detection"
text "gpiozero finds which Pi it runs on (LGPIOFactory picks its GPIO chip by it) in /proc/device-tree/system/linux,revision, else /proc/cpuinfo. The same call as the deskline user, with and without ProcSubset=pid (this VM is no Pi: without the option the honest answer is PinUnknownPi):"
printf '%s\n' "from gpiozero.pins.local import get_pi_revision" "try:" "    print(hex(get_pi_revision()))" \
  "except Exception as exc:" "    print(type(exc).__name__, exc)" >/run/pirev.py
chmod 0644 /run/pirev.py
for opt in ProcSubset=pid ProcSubset=all; do
  name=procsubset-${opt#ProcSubset=}
  cat >/run/systemd/system/$name.service <<EOF
[Service]
Type=oneshot
User=deskline
ProtectProc=invisible
$opt
StandardOutput=file:/run/$name.txt
StandardError=inherit
ExecStart=/opt/deskline/venv/bin/python /run/pirev.py
EOF
  systemctl daemon-reload
  systemctl start "$name.service"
  echo "\$ a oneshot unit as the deskline user with ProtectProc=invisible $opt: gpiozero.pins.local.get_pi_revision()"
  cat "/run/$name.txt"
done | tee "$OUT/procsubset.txt" | code
if grep -A1 'ProcSubset=pid:' "$OUT/procsubset.txt" | grep -q "FileNotFoundError.*cpuinfo"; then
  verdict "ProcSubset=pid hides /proc/cpuinfo from gpiozero" "FOUND" "get_pi_revision() raises FileNotFoundError '/proc/cpuinfo' under ProcSubset=pid (the shipped unit had it; removed)"
fi

# --- systemd-analyze security on the live system ----------------------------------------------------
section "systemd-analyze security (live)"
systemd-analyze security "$U" --no-pager >"$OUT/security.txt" 2>&1
score=$(grep -i 'overall exposure' "$OUT/security.txt")
grep -v '^✓' "$OUT/security.txt" | code
verdict "systemd-analyze security (live)" "$(echo "$score" | python3 -c "import sys,re; print('PASS' if float(re.search(r'([0-9.]+)', sys.stdin.read().split(':',1)[1])[1]) <= 2.0 else 'FAIL')")" "$score"

section "The whole journal of the unit in this run"
journalctl -u "$U" -o short-precise --no-pager -q >"$OUT/journal.txt"
text "$(wc -l <"$OUT/journal.txt") lines (the last 60):"
tail -60 "$OUT/journal.txt" | code

finish
