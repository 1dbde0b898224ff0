"""Inside the VM of bench/powercut_vm.sh (run as root with the desk's own Python): check the
record against the ledger, then make calls on the fake desk until the power goes.

    python powercut_guest.py SHARE cycle N    check, then calls until the cut
    python powercut_guest.py SHARE check      check, `deskline calls`, then return

The ledger (SHARE/out/ledger.jsonl, on the host through 9p, each line fsynced) holds every call
the desk's record showed finished, with all its fields as the record gave them then. The check
reads the record as `deskline calls` does (read-only, never recovering anything) and compares:
a ledger call missing from the record, or different in any field, is lost. Calls in the record
and not in the ledger are the ones in progress at a cut; how the desk recorded them is kept.
"""
from __future__ import annotations

import glob
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

from deskline.record.journal import Journal, set_aside_files

DB = "/var/lib/deskline/calls.db"
SOCK = "/run/deskline/fake-hw.sock"
UNIT = "deskline.service"


def uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def append(path: str, line: str) -> None:
    """One line, on the host's disk before this returns (9p: fsync reaches the host)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_json(path: str, obj) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


def fake(cmd: str) -> str:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(SOCK)
    f = s.makefile("rw")
    f.write(cmd + "\n")
    f.flush()
    reply = f.readline().strip()
    s.close()
    return reply


def is_active() -> str:
    return subprocess.run(["systemctl", "is-active", UNIT], capture_output=True,
                          text=True).stdout.strip()


def wait_service(limit_s: float = 900.0) -> dict:
    """Until the unit is active and the fake desk answers; when, in seconds since boot."""
    t0 = time.monotonic()
    active_at = None
    while time.monotonic() - t0 < limit_s:
        if active_at is None and is_active() == "active":
            active_at = uptime()
        if active_at is not None:
            try:
                if fake("state").startswith("{"):
                    return {"active": True, "active_at_uptime_s": round(active_at, 1),
                            "desk_answers_at_uptime_s": round(uptime(), 1)}
            except OSError:
                pass
        time.sleep(0.5)
    return {"active": False, "state": is_active()}


def journal_lines(pattern: str) -> list[str]:
    out = subprocess.run(["journalctl", "-b", "-u", UNIT, "-o", "cat", "--no-pager", "-q",
                          "--grep", pattern], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if ln.strip()]


def read_ledger(share: str) -> tuple[list[dict], int]:
    rows, torn = [], 0
    try:
        with open(os.path.join(share, "out", "ledger.jsonl"), encoding="utf-8") as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    torn += 1
    except FileNotFoundError:
        pass
    return rows, torn


def integrity() -> str:
    """integrity_check on a copy of the record (the live one is the service's)."""
    with tempfile.TemporaryDirectory() as d:
        for ext in ("", "-wal"):
            if os.path.exists(DB + ext):
                shutil.copyfile(DB + ext, os.path.join(d, "calls.db" + ext))
        db = sqlite3.connect(os.path.join(d, "calls.db"))
        try:
            return "; ".join(r[0] for r in db.execute("PRAGMA integrity_check").fetchall())
        finally:
            db.close()


def check(share: str, label: str) -> dict:
    """The record after the cut against the ledger of every call seen finished before it."""
    ledger, torn = read_ledger(share)
    j = Journal(DB, readonly=True)
    try:
        record = {c["id"]: c for c in j.calls()}
        unreadable = list(j.unreadable)
        facts = {i: len(j.facts(i)) for i in record}
    finally:
        j.close()
    lost, changed = [], []
    for row in ledger:
        got = record.get(row["id"])
        if got is None:
            lost.append(row["id"])
        elif json.dumps(got, sort_keys=True) != json.dumps(row["call"], sort_keys=True):
            diff = {k: [row["call"].get(k), got.get(k)] for k in set(got) | set(row["call"])
                    if got.get(k) != row["call"].get(k)}
            changed.append({"id": row["id"], "ledger_vs_record": diff})
    in_ledger = {row["id"] for row in ledger}
    # calls the desk recorded that no ledger line holds: in progress at a cut (or finished in
    # the record but cut before the ledger line was written)
    extra = [{k: record[i][k] for k in ("id", "end_reason", "released_by", "resumed", "rings",
                                        "answered_t_s", "ended_t_s", "duration_s")}
             | {"facts": facts[i], "prompts": len(record[i]["prompts"])}
             for i in sorted(record) if i not in in_ledger]
    out = {
        "label": label,
        "at_uptime_s": round(uptime(), 1),
        "ledger_calls": len(ledger),
        "ledger_torn_lines": torn,
        "record_calls": len(record),
        "lost": lost,
        "changed": changed,
        "unreadable": unreadable,
        "not_in_ledger": extra,
        "set_aside_files": set_aside_files(DB),
        "log_set_aside": journal_lines("set aside|damaged"),
        "log_left_open": journal_lines("left open"),
        "integrity_check": integrity(),
        # the kernel's word on the file system after the cut (ext4's journal replayed)
        "kernel_ext4": [ln for ln in subprocess.run(
            ["journalctl", "-k", "-b", "-o", "cat", "--no-pager", "-q", "--grep", "EXT4-fs"],
            capture_output=True, text=True).stdout.splitlines() if ln.strip()],
        "service": is_active(),
        # how this boot's start went: restarts, and the unit's first lines (seconds since boot)
        "unit": subprocess.run(["systemctl", "show", "-p", "NRestarts,ActiveEnterTimestampMonotonic",
                                UNIT], capture_output=True, text=True).stdout.split(),
        "unit_log_head": subprocess.run(
            ["journalctl", "-b", "-u", UNIT, "-o", "short-monotonic", "--no-pager", "-q", "-n",
             "400"], capture_output=True, text=True).stdout.splitlines()[:25],
    }
    return out


def calls(share: str, cycle: int, seed: int) -> None:
    """Calls on the fake desk, one after another, until the power goes."""
    rng = random.Random(seed * 1000 + cycle)
    phase_log = os.path.join(share, "out", "phase.log")
    ledger = os.path.join(share, "out", "ledger.jsonl")
    j = Journal(DB, readonly=True)

    def phase(*what) -> None:
        append(phase_log, f"{cycle} {uptime():.2f} " + " ".join(str(w) for w in what))

    def newest() -> int:
        last = j.calls(limit=1)
        return last[0]["id"] if last else 0

    k = 0
    while True:
        k += 1
        before = newest()
        lifted = rng.uniform(3.0, 9.0)
        extra = rng.choice(("none", "anything_else", "hold"))
        phase("ring", k)
        fake("ring on")
        time.sleep(rng.uniform(0.8, 2.0))
        phase("lift", k, f"{lifted:.1f}s", extra)
        fake("hook off")
        time.sleep(0.3)
        fake("ring off")
        t_lift = time.monotonic()
        if extra != "none":
            time.sleep(lifted / 3)
            phase("press", k, extra)
            fake("press " + extra)
            if extra == "hold":
                time.sleep(1.5)
                fake("press hold")
        time.sleep(max(0.0, lifted - (time.monotonic() - t_lift)))
        phase("hangup", k)
        fake("hook on")
        deadline = time.monotonic() + 120
        seen = None
        while seen is None and time.monotonic() < deadline:
            for c in j.calls(limit=3):
                if c["id"] > before and c["end_reason"] is not None:
                    seen = c
            if seen is None:
                time.sleep(0.2)
        if seen is None:
            phase("not-finished", k)
            continue
        phase("seen", k, seen["id"], seen["end_reason"])
        append(ledger, json.dumps({"cycle": cycle, "k": k, "id": seen["id"], "call": seen},
                                  sort_keys=True))
        phase("ledgered", k, seen["id"])
        time.sleep(rng.uniform(0.3, 1.5))


def main(argv: list[str]) -> int:
    share, mode = argv[1], argv[2]
    out = os.path.join(share, "out")
    os.makedirs(out, exist_ok=True)
    if mode == "cycle":
        cycle, seed = int(argv[3]), int(argv[4])
        up = wait_service()
        result = {"cycle": cycle, "boot": up}
        if up["active"]:
            result["check"] = check(share, f"boot {cycle}")
        write_json(os.path.join(out, f"check-{cycle:03d}.json"), result)
        if not up["active"]:
            return 1
        append(os.path.join(out, "running"), f"{cycle} {uptime():.1f}")
        calls(share, cycle, seed)
        return 0
    if mode == "check":
        up = wait_service()
        result = {"boot": up}
        if up["active"]:
            result["check"] = check(share, "final boot")
        cli = {}
        for args in (["calls"], ["calls", "--json"], ["calls", "--report", "--json"]):
            p = subprocess.run(["runuser", "-u", "deskline", "--", "/opt/deskline/venv/bin/deskline",
                                *args, "--config", "/etc/deskline/deskline.toml"],
                               capture_output=True, text=True)
            cli[" ".join(args)] = {"rc": p.returncode, "stdout_head": p.stdout[:3000],
                                   "stderr": p.stderr[-2000:]}
            if args == ["calls", "--json"] and p.returncode == 0:
                try:
                    # one JSON object a line, a call each
                    cli["calls --json"]["n"] = len([json.loads(ln) for ln in p.stdout.splitlines()
                                                    if ln.strip()])
                except ValueError as exc:
                    cli["calls --json"]["parse_error"] = str(exc)
        result["cli"] = cli
        result["boots"] = subprocess.run(["journalctl", "--list-boots", "--no-pager"],
                                         capture_output=True, text=True).stdout
        result["record_files"] = sorted(glob.glob(DB + "*"))
        write_json(os.path.join(out, "final.json"), result)
        return 0
    print(f"powercut_guest: unknown mode {mode!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
