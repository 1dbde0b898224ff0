"""bench/results/powercut.md from what bench/powercut_vm.sh's guest left on the share.

Run by bench/powercut_vm.sh (on the host, python3 without the desk's packages).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re


def load(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def fate(rows: list[dict]) -> str:
    if not rows:
        return "none in the record"
    out = []
    for r in rows:
        bits = [f"call {r['id']}: {r['end_reason']}"]
        if r["resumed"]:
            bits.append("resumed")
        bits.append(f"{r['facts']} facts, {r['prompts']} phrases")
        if r["end_reason"] == "interrupted":
            bits.append(f"closed at its last fact, {r['duration_s']} s after the answer")
        out.append(", ".join(bits))
    return "; ".join(out)


def restarts(check: dict) -> str:
    """How many starts the unit needed at that boot (each failed start a timeout, here)."""
    props = dict(x.split("=", 1) for x in check.get("unit", []) if "=" in x)
    n = props.get("NRestarts", "?")
    return "first start" if n == "0" else ("1 restart" if n == "1" else f"{n} restarts")


def main() -> None:
    ap = argparse.ArgumentParser()
    for name in ("share", "cuts-tsv", "consoles", "commit", "base-commit", "base-s", "started",
                 "seed", "delay", "cuts-s", "check-s", "accel", "qemu", "host"):
        ap.add_argument("--" + name, required=True)
    a = ap.parse_args()
    out = os.path.join(a.share, "out")
    cuts = []
    with open(a.cuts_tsv, encoding="utf-8") as f:
        next(f)
        for line in f:
            c, up, delay, at, phase = line.rstrip("\n").split("\t")
            cuts.append({"cycle": int(c), "up": float(up), "delay": float(delay), "at": at,
                         "phase": phase})
    checks = {}
    for p in sorted(glob.glob(os.path.join(out, "check-*.json"))):
        r = load(p)
        checks[r["cycle"]] = r
    final = load(os.path.join(out, "final.json"))
    n = len(cuts)
    checks[n + 1] = {"cycle": n + 1, "boot": final["boot"], "check": final.get("check")}
    def lines(name: str) -> list[str]:
        try:
            with open(os.path.join(out, name), encoding="utf-8") as f:
                return [ln for ln in f.read().splitlines() if ln.strip()]
        except FileNotFoundError:
            return []

    made = sum(1 for ln in lines("phase.log") if ln.split()[2] == "lift")
    ledger = []
    for ln in lines("ledger.jsonl"):
        try:
            ledger.append(json.loads(ln))
        except ValueError:
            pass

    rows, lost_any, changed_any, aside_any, inactive = [], set(), 0, [], []
    boot_times = []
    for i in range(1, n + 2):
        r = checks.get(i)
        if r is None or not r["boot"].get("active") or r.get("check") is None:
            inactive.append(i)
            continue
        ck = r["check"]
        boot_times.append(r["boot"]["active_at_uptime_s"])
        lost_any |= set(ck["lost"])
        changed_any += len(ck["changed"])
        if ck["set_aside_files"] or ck["log_set_aside"]:
            aside_any.append(i)
    for c in cuts:
        i = c["cycle"]
        before = {x["id"] for x in (checks.get(i, {}).get("check") or {}).get("not_in_ledger", [])}
        nxt = checks.get(i + 1, {}).get("check") or {}
        new = [x for x in nxt.get("not_in_ledger", []) if x["id"] not in before]
        replayed = any("recovery complete" in ln for ln in nxt.get("kernel_ext4", []))
        boot = checks.get(i + 1, {}).get("boot", {})
        rows.append("| {} | {:.1f} | {} | {} | {} | {} | {} | {} | {} |".format(
            i, c["delay"], c["phase"], fate(new), nxt.get("ledger_calls", "?"),
            len(nxt.get("lost", [])) + len(nxt.get("changed", [])) if nxt else "?",
            "yes" if replayed else "no", nxt.get("integrity_check", "?"),
            f"{boot.get('active_at_uptime_s', '-')} s, {restarts(nxt)}"))

    fc = final.get("check") or {}
    lost_final = len(fc.get("lost", [])) + len(fc.get("changed", []))
    cli = final.get("cli", {})
    print("# Power cuts mid-call: does every finished call survive? (throwaway VM)")
    print()
    print("Reproduce (root; the first run builds the cached image and installs the desk):")
    print()
    print("```")
    print(f"sudo nice -n 10 bench/powercut_vm.sh --cuts {n} --seed {a.seed}")
    print("```")
    print()
    print(f"Run started {a.started}. Tree: commit {a.commit} (git archive HEAD); the desk "
          f"installed from commit {a.base_commit} (the same firmware/, systemd/, sounds/, "
          f"install.sh, pyproject.toml, setup.py), install boot {a.base_s} s. Host: {a.host}; "
          f"{a.qemu}; accelerator {a.accel}; 2 vCPUs, 1 GB; disk: a qcow2 layer a cycle "
          f"(4 KiB clusters) over the installed base, cache=none. Cut: SIGKILL to qemu a "
          f"uniform {a.delay.replace(' ', '-')} s after the guest's calls began.")
    print()
    print("## Figures")
    print()
    print(f"- power cuts: **{n}**; calls made (handset lifted): **{made}**; calls seen finished "
          f"in the record and written to the ledger before a cut: **{len(ledger)}**")
    print(f"- calls checked at the last boot: **{fc.get('ledger_calls', '?')}**, each against "
          f"every field the record gave when it finished (times, outcome, rings, holds, "
          f"phrases with their measurements): lost **{len(fc.get('lost', []))}**, changed "
          f"**{len(fc.get('changed', []))}**")
    print(f"- lost or changed at any of the {n + 1} boots' checks: "
          f"**{len(lost_any) + changed_any}**; ledger lines torn by a cut: "
          f"{fc.get('ledger_torn_lines', '?')}")
    print(f"- record set aside as damaged after a cut: **{'at boots ' + ', '.join(map(str, aside_any)) if aside_any else 'never'}**; "
          f"integrity_check at the last boot: {fc.get('integrity_check', '?')}; calls SQLite "
          f"could not read: {len(fc.get('unreadable', []))}")
    print(f"- service active at every boot: **{'yes' if not inactive else 'no: boots ' + ', '.join(map(str, inactive))}**")
    if boot_times and cuts:
        print(f"- boot to the unit active (guest uptime): {min(boot_times):.0f}-{max(boot_times):.0f} s, "
              f"median {sorted(boot_times)[len(boot_times) // 2]:.0f} s ({a.accel.split()[0]}); qemu start to calls "
              f"running (host): {min(c['up'] for c in cuts):.0f}-{max(c['up'] for c in cuts):.0f} s; "
              f"all {n} cycles {a.cuts_s} s, the last boot {a.check_s} s")
    timeouts = [restarts(r["check"]) for r in checks.values() if r.get("check")]
    print(f"- starts the unit needed at each boot: {', '.join(timeouts)}. Each restart in the unit's "
          f"log (its first 25 lines at each boot) is systemd's TimeoutStartSec=30s ending a "
          f"cold start that the emulated CPU made slow; the service then came up (see the "
          f"note below)")
    ok = lambda k: cli.get(k, {}).get("rc")
    print(f"- `deskline calls` as the desk's user at the last boot: exit {ok('calls')}; "
          f"`calls --json`: exit {ok('calls --json')}, {cli.get('calls --json', {}).get('n', '?')} "
          f"calls printed (the newest, its default); `calls --report --json`: exit {ok('calls --report --json')}")
    print()
    print("## What a cut is here, and what it is not")
    print()
    print("The host kills qemu with SIGKILL. The guest's memory is gone at once: its page cache, "
          "SQLite's and the service's. A write is kept only if it had reached the disk. The "
          "disk is a qcow2 file opened with cache=none (O_DIRECT), so no host page cache sits "
          "between the guest and the file. The guest sees a volatile write cache and sends "
          "flushes: ext4 barriers, and SQLite's fsync at each commit with synchronous=FULL.")
    print()
    print("Each cycle boots a new qcow2 layer with 4 KiB clusters. A block the guest first "
          "writes in a cycle is therefore a cluster allocation, and qemu keeps its mapping in "
          "memory until the guest's next flush. A cut drops every such write made since the "
          "last flush, as a disk's volatile write cache does; ext4 replaying its journal at the "
          "next boot shows the file system was cut mid-flight.")
    print()
    print("Not modelled:")
    print()
    print("- a block already written in the same cycle and rewritten without a flush survives "
          "the cut (a real cache might lose it);")
    print("- a disk that acknowledges a flush it has not done, or reorders writes across one;")
    print("- torn sectors;")
    print("- brown-outs (the voltage sagging rather than going);")
    print("- an SD card's own translation layer losing blocks it had already written.")
    print()
    print("## What makes a finished call durable")
    print()
    print("This is the code at this tree (firmware/deskline/record/journal.py), read against "
          "a cut:")
    print()
    print("- **Each write is a durable commit.** The record is SQLite in WAL mode with "
          "`synchronous=FULL`, in autocommit: every write is its own transaction. SQLite "
          "fsyncs the WAL before the commit becomes visible to any reader.")
    print("- **A call's end.** A call is finished in the record when `close_call`'s update "
          "(end, duration, why it ended, who released) commits. That commit is on disk when it "
          "returns, and it is the call's last write. The writes just before it (the call's "
          "figures, its holds closed) are commits of their own. A cut between them leaves the "
          "call open, and the next start closes it as `interrupted` at its last fact. The "
          "ledger takes a call only once a reader sees it finished, so only after that "
          "fsync.")
    print("- **WAL checkpoints.** With `synchronous=FULL`, SQLite fsyncs the database file "
          "before it reuses the WAL. A cut mid-checkpoint leaves the WAL whole, and the next "
          "open replays it.")
    print("- **A new record's file.** SQLite fsyncs the folder when it creates the WAL, at the "
          "record's first commit. That also puts the record's own name in the folder on disk.")
    print("- **The floor's outbox** has its own connection, also `synchronous=FULL`. It is not "
          "configured in this test (no `[floor]`).")
    print("- **A damaged record set aside.** The record is renamed first, then its -wal and "
          "-shm. A cut between the two renames left a WAL without its record, and SQLite "
          "deleted it when the fresh record started: the set-aside record lost its last "
          "calls. The open now puts such a WAL beside the record it belongs to, and the "
          "renames are synced to the folder before the fresh record starts "
          "(`tests/record/test_journal_faults.py::test_a_set_aside_cut_between_the_record_"
          "and_its_wal_keeps_the_wal` fails without this). No cut here reaches that path: the "
          "record was never damaged.")
    print("- **Readers** (`deskline calls`, this check) open read-only. They never checkpoint "
          "and never close open calls.")
    print()
    print("## Notes")
    print()
    print("- **The fake desk starts on-hook at every boot** (a fresh MockFactory). So the "
          "call in progress at a cut is closed as `interrupted` at the next start. On a real "
          "desk whose handset is still lifted when the power returns, the service takes it "
          "as a call in progress, recorded as resumed. The unit tests cover that path; this "
          "test does not.")
    print("- **Cold starts and `TimeoutStartSec=30s`.** Under the emulated CPU, a cold start "
          "at boot (Python, numpy, onnxruntime, espeak-ng synthesising the hotline's name) "
          "took longer than the unit's `TimeoutStartSec=30s`. systemd ended it and started "
          "it again (`Restart=on-failure`, 2 s apart) until a start, warmer, finished in "
          "time; the restart counts are above. `StartLimitBurst=10` in 300 s would give up "
          "after ten. A desk with a slow SD card has less margin than the unit assumes. The "
          "service could extend the start timeout (sd_notify `EXTEND_TIMEOUT_USEC`) while "
          "it prepares its phrases.")
    print()
    print("## Each cut")
    print()
    print("\"During\" is the guest driver's last step before the cut: `ring`/`lift`/`press` "
          "(a call in progress), `hangup` (put down, its end not yet seen in the record), "
          "`seen` (finished in the record, ledger line not yet written), `ledgered` (between "
          "calls). \"In progress at the cut\" is how the record has the calls that no ledger "
          "line holds, at the next boot.")
    print()
    print("| cut | after (s) | during | in progress at the cut, as the record has it at the next "
          "boot | ledger calls checked then | lost | ext4 journal replayed | integrity_check | "
          "next boot: unit active at (uptime) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(r)
    by = {}
    for c in cuts:
        k = c["phase"].split()[0] if c["phase"] != "none" else "before the first call"
        by[k] = by.get(k, 0) + 1
    print()
    print("Cuts by step: " + ", ".join(f"{k} {v}" for k, v in sorted(by.items())) + ".")
    print()
    print("## The record at the last boot")
    print()
    print("```")
    print(cli.get("calls", {}).get("stdout_head", "").rstrip()[:2500])
    print("```")
    extra = fc.get("log_left_open", [])
    print()
    print(f"The service's log at the last boot on calls left open ({len(extra)} lines):")
    print()
    print("```")
    for ln in extra[:10]:
        print(ln)
    print("```")
    if fc.get("changed") or fc.get("lost"):
        print()
        print("## Lost or changed calls")
        print()
        print("```")
        print(json.dumps({"lost": fc.get("lost"), "changed": fc.get("changed")}, indent=1)[:6000])
        print("```")


if __name__ == "__main__":
    main()
