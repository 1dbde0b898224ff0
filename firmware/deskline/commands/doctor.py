"""``deskline doctor``: check the desk as installed, and say what is wrong in an installer's words.

Checks, in order: the settings file, the GPIO pins (hook, ring, keys read as expected), the
sound card (found by its name, both directions), the level on the receive tap (a short
recording), every phrase recording, the phrase pad's keys (each one's phrase is in the catalog
and has its recordings), the USB keypad (its map, and whether the device is there and readable),
and the call record. Each check prints one line starting
with ``ok``, ``warn`` or ``FAIL``; the exit status is 1 when anything failed.

Run it with the service stopped (``sudo systemctl stop deskline``): the service holds the pins
and the sound card while it runs.
"""
from __future__ import annotations

import os
import pwd
import sys

NAME = "doctor"
HELP = "check pins, sound card, receive level, phrase recordings and call record; explain problems"

STOP_HINT = "is the deskline service running? stop it first: sudo systemctl stop deskline"
#: the unit's User= and StateDirectory= (systemd/deskline.service; install.sh makes both)
SERVICE_USER = "deskline"
STATE_DIR = "/var/lib/deskline"


def add_arguments(parser) -> None:
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="settings file (default: as `deskline run` finds it)")
    parser.add_argument("--listen-s", type=float, default=2.0, metavar="S",
                        help="how long to listen to the receive tap (default 2 s; 0 = skip)")


class _Report:
    def __init__(self):
        self.failed = 0

    def ok(self, what: str) -> None:
        print(f"ok    {what}")

    def warn(self, what: str) -> None:
        print(f"warn  {what}")

    def fail(self, what: str) -> None:
        self.failed += 1
        print(f"FAIL  {what}")


def _check_config(r: _Report, path):
    from deskline.config import config_path, load_effective, unreadable_message
    from deskline.exc import ConfigError

    found = config_path(path)
    if found and os.path.exists(found) and not os.access(found, os.R_OK):
        r.fail(f"settings: {unreadable_message(found)}")
        return None
    try:
        cfg = load_effective(path)
    except ConfigError as exc:
        r.fail(f"settings: {exc} — fix that line, then run doctor again")
        return None
    where = config_path(path) or "built-in defaults (no settings file)"
    d = cfg.desk_section
    if not d.hotline_name or not d.agent_no:
        r.fail(f"settings: {where}: [desk] hotline_name and agent_no must both be set: the "
               f"greeting says them, and the service will not start without them")
    else:
        r.ok(f"settings: {where} (hotline {d.hotline_name!r}, agent {d.agent_no}, "
             f"profile {cfg.profile.name})")
    return cfg


def _check_gpio(r: _Report, cfg) -> None:
    from deskline.commands.run import open_desk
    from deskline.exc import HardwareError

    closers: list = []
    try:
        desk = open_desk(cfg, closers, serve=False, keypad=False)
    except HardwareError as exc:
        r.fail(f"GPIO: {exc} — on a Raspberry Pi: {_lgpio_hint()}; if the pins are busy, "
               f"{STOP_HINT}")
        return
    try:
        p = desk.pins
        if desk.hook.active:
            r.warn(f"hook switch (GPIO{p.hook}) reads OFF-HOOK: put the handset down; if it is "
                   f"down, the hook wire is shorted to ground or wired to the wrong contact")
        else:
            r.ok(f"hook switch (GPIO{p.hook}) reads on-hook (handset down)")
        if desk.ring.active:
            r.warn(f"ring input (GPIO{p.ring}) reads ringing: fine during a call, otherwise "
                   f"check the optocoupler wiring")
        else:
            r.ok(f"ring input (GPIO{p.ring}) is quiet")
        stuck = [f"{k} (GPIO{role.pin})" for k, role in desk.keys.items() if role.active]
        if stuck:
            r.fail(f"keys held down: {', '.join(stuck)} — a stuck key or a short to ground")
        else:
            r.ok(f"desk keys all up: {', '.join(f'{k} GPIO{v}' for k, v in p.keys.items())}")
        outs = f"mute LED GPIO{p.mute_led}, mute relay GPIO{p.mute_relay}"
        if p.line_release is None:
            r.warn(f"outputs: {outs}; no line-release relay, so the LED asks the agent to hang up")
        else:
            r.ok(f"outputs: {outs}, line release GPIO{p.line_release} (all off)")
    finally:
        for fn in reversed(closers):
            fn()


def _lgpio_hint() -> str:
    """How to put lgpio (gpiozero's Pi 5 and bookworm pin driver) into the Python running us."""
    sudo = "" if os.access(sys.prefix, os.W_OK) else "sudo "
    return (f"{sudo}{sys.executable} -m pip install lgpio (its wheel for the Pi needs nothing "
            f"compiled; sudo ./install.sh does it for the service)")


def _check_card(r: _Report, cfg) -> bool:
    from deskline.exc import HardwareError
    from deskline.hw.soundcard import find_device, list_devices

    a = cfg.audio
    try:
        for kind in ("input", "output"):
            if not list_devices(kind):
                raise HardwareError(f"no {kind} sound device at all")
        dev_in = find_device(a.card or None, "input")
        dev_out = find_device(a.output_card or a.card or None, "output")
    except HardwareError as exc:
        r.fail(f"sound card: {exc} — check the USB sound card is plugged in, and that "
               f"[audio] card matches its name (`arecord -l` lists them)")
        return False
    names = dict(list_devices("input")), dict(list_devices("output"))
    r.ok(f"sound card: receive from {names[0].get(dev_in, 'the default input')!r}, "
         f"phrases to {names[1].get(dev_out, 'the default output')!r}")
    return True


def _check_levels(r: _Report, cfg, seconds: float) -> None:
    import numpy as np

    from deskline.dsp.levels import clipped_ratio, peak_dbov, rms_dbov
    from deskline.exc import HardwareError
    from deskline.hw.soundcard import record

    try:
        x = record(seconds, cfg.audio.rate_hz, cfg.audio.card or None)
    except HardwareError as exc:
        r.fail(f"receive tap: {exc} — {STOP_HINT}")
        return
    x = np.asarray(x, dtype=np.float64)
    level, peak, clip = rms_dbov(x), peak_dbov(x), clipped_ratio(x)
    figures = f"{level:.1f} dBov, peak {peak:.1f} dBov over {seconds:g} s"
    if clip > 0.001:
        r.fail(f"receive tap is clipping ({100 * clip:.2f} % of samples at full scale; {figures}) "
               f"— turn the capture gain down (alsamixer, F4)")
    elif level <= -90.0:
        r.fail(f"receive tap is dead silent ({figures}) — the tap cable is not connected, or the "
               f"capture volume is at zero (alsamixer, F4)")
    elif level > -20.0:
        r.warn(f"receive tap is very loud ({figures}) — fine while someone shouts, otherwise "
               f"turn the capture gain down")
    else:
        r.ok(f"receive tap: {figures} (a quiet line reads about -70 to -50 dBov, "
             f"speech about -35 to -20 dBov)")


def _check_phrases(r: _Report, cfg) -> None:
    from deskline.exc import DesklineError

    try:
        from deskline.phrases.book import PhraseBook
        from deskline.phrases.check import check

        book = PhraseBook.from_config(cfg)
        rep = check(book, langs=(cfg.desk_section.language,))
    except DesklineError as exc:
        r.fail(f"phrases: {exc}")
        return
    bad = [f for f in rep.files if f.problems]
    if rep.missing:
        shown = ", ".join(f"{pid} ({key})" for pid, _, key in rep.missing[:5])
        more = f" and {len(rep.missing) - 5} more" if len(rep.missing) > 5 else ""
        r.fail(f"phrases: {len(rep.missing)} recordings missing: {shown}{more} — "
               f"copy them into [phrases] dir or reinstall deskline")
    if bad:
        shown = "; ".join(f"{os.path.basename(f.path)}: {', '.join(f.problems)}" for f in bad[:3])
        r.warn(f"phrases: {len(bad)} recordings are not telephone-ready: {shown}")
    if not rep.missing and not bad:
        r.ok(f"phrases: {len(rep.files)} recordings for language {cfg.desk_section.language!r}, "
             f"all present and at telephone level")
    _check_pad(r, cfg, book, rep)


def _check_pad(r: _Report, cfg, book, rep) -> None:
    """The phrase pad: every key's phrase is one the catalog knows and has its recordings."""
    keys = dict(cfg.hw.phrase_keys)
    if not keys:
        return
    listed = ", ".join(f"{pid} GPIO{pin}" for pid, pin in keys.items())
    missing = {owner for owner, _, _ in rep.missing}
    problems = []
    for pid, pin in keys.items():
        if pid not in book.catalog:
            problems.append(f"the key on GPIO{pin} is set to {pid!r}, which is not a phrase "
                            f"deskline knows, so pressing it says nothing — correct the name in "
                            f"[hw.phrase_keys] (`deskline phrases list` shows them all)")
        elif pid in missing:
            problems.append(f"the key on GPIO{pin} ({pid}) has no recording to play, so pressing "
                            f"it says nothing — copy the recording into [phrases] dir, record it "
                            f"(`deskline phrases record {pid}`) or reinstall deskline")
    if problems:
        for problem in problems:
            r.fail(f"phrase pad: {problem}")
    else:
        r.ok(f"phrase pad: {listed} (every phrase known and recorded)")


def _check_keypad(r: _Report, cfg) -> None:
    """The USB keypad: the map (every binding, with its values), whether its phrases are
    known, and whether the device is there and this user may read it."""
    from deskline.call.controller import parse_pad_key
    from deskline.config import BUILTIN_KEYMAP, check_keypad
    from deskline.exc import ConfigError, HardwareError
    from deskline.hw.keypad import find_device

    kp = cfg.keypad
    if not kp.enabled:
        return
    try:
        check_keypad(cfg, _catalog())
        keymap = kp.keymap()
    except (ConfigError, HardwareError) as exc:
        r.fail(f"keypad map: {exc}")
        return
    where = "the built-in map" if kp.map_path == BUILTIN_KEYMAP else kp.map_path
    r.ok(f"keypad map ({where}): {len(kp.keys)} keys plain, {len(kp.shift)} with "
         f"{' or '.join(kp.modifier) or 'no modifier'} held")
    for layer, key, action in kp.bindings():
        if action.startswith("phrase:"):
            pid, values = parse_pad_key(action)
            said = pid + "".join(f"  {k}={v}" for k, v in values.items())
        else:
            said = f"{action} (desk key)"
        print(f"        {('plain', 'shift')[layer]:5}  {key:18} {said}")
    from deskline.commands.run import keypad_is_fake

    if keypad_is_fake(cfg):
        r.ok(f"keypad: the fake desk's (its control socket presses the keys; {kp.device} is "
             f"not looked for)")
        return
    path = find_device(kp.device, keymap.codes())
    if path is None:
        r.fail(f"keypad: {kp.device} is not plugged in (or not seen: `ls -l /dev/input/by-id` "
               f"lists the input devices there are) — the service looks for it every "
               f"{kp.retry_s:g} s and takes it when it comes")
        return
    if not os.access(path, os.R_OK):
        r.fail(f"keypad: {kp.device} is {path}, which this user may not read — the udev rule "
               f"(sudo ./install.sh writes /etc/udev/rules.d/70-deskline-keypad.rules) gives it "
               f"to the {SERVICE_USER} group: sudo -u {SERVICE_USER} {_self()} doctor")
        return
    try:
        from evdev import InputDevice

        dev = InputDevice(path, readonly=True)
        try:
            dev.grab()
            dev.ungrab()
            name = dev.name
        finally:
            dev.close()
    except OSError as exc:
        r.fail(f"keypad: {kp.device} is {path} but cannot be taken ({exc.strerror or exc}); "
               f"if the service runs, it holds it: {STOP_HINT}")
        return
    r.ok(f"keypad: {kp.device} is {path} ({name!r}), present and readable")


def _catalog():
    from deskline.phrases.catalog import default_sounds_dir, load_catalog

    return load_catalog(default_sounds_dir() / "catalog.toml")


def _owner(path: str) -> str | None:
    try:
        return pwd.getpwuid(os.stat(path).st_uid).pw_name
    except (OSError, KeyError):
        return None


def _self() -> str:
    return os.path.join(os.path.dirname(sys.executable), "deskline")


def _check_journal(r: _Report, cfg) -> None:
    from deskline.exc import JournalError
    from deskline.record.journal import Journal, set_aside_files

    path = cfg.journal.path
    for old in set_aside_files(path):
        r.warn(f"call record: a damaged record was set aside as {old} and a fresh one started "
               f"— keep that file for the desk engineer; `deskline calls --db {old}` lists what "
               f"can still be read")
    if not os.path.exists(path):
        parent = os.path.dirname(os.path.abspath(path)) or "."
        owner = _owner(parent)
        if os.path.isdir(parent) and (os.access(parent, os.W_OK) or owner == SERVICE_USER):
            r.ok(f"call record: {path} does not exist yet; the service will create it")
        elif parent == STATE_DIR:
            r.fail(f"call record: {STATE_DIR} is missing or not the service's — systemd makes it "
                   f"when the service starts (sudo systemctl start deskline), and sudo "
                   f"./install.sh makes it right away")
        elif os.path.isdir(parent):
            r.fail(f"call record: cannot create {path}: {parent} belongs to {owner or '?'}, and "
                   f"the service runs as {SERVICE_USER} — sudo chown {SERVICE_USER}: {parent}, "
                   f"or fix [journal] path")
        else:
            r.fail(f"call record: cannot create {path}: {parent} is missing — sudo install -d "
                   f"-o {SERVICE_USER} -g {SERVICE_USER} -m 0750 {parent}, or fix [journal] path")
        return
    if not os.access(path, os.R_OK):
        r.warn(f"call record: {path} is not readable by this user (the service's own file): "
               f"run doctor as the service does: sudo -u {SERVICE_USER} {_self()} doctor")
        return
    try:
        j = Journal(path, readonly=True)
        try:
            calls = j.calls(limit=1)
            total = j.report().get("calls", None)
        finally:
            j.close()
    except (JournalError, OSError) as exc:
        r.fail(f"call record: {exc} — keep a copy of the file and tell the desk engineer")
        return
    if not os.access(path, os.W_OK):
        r.warn(f"call record: {path} is readable but not writable by this user "
               f"(fine if the service runs as another user)")
    last = f", last call {calls[0]['started_at']}" if calls else ""
    r.ok(f"call record: {path} opens cleanly ({total if total is not None else '?'} calls{last})")


def run(args) -> int:
    r = _Report()
    cfg = _check_config(r, args.config)
    if cfg is None:
        from deskline.config import Config

        cfg = Config.default()
        print("      (checking the rest with the built-in defaults)")
    _check_gpio(r, cfg)
    if _check_card(r, cfg) and args.listen_s > 0:
        _check_levels(r, cfg, args.listen_s)
    _check_phrases(r, cfg)
    _check_keypad(r, cfg)
    _check_journal(r, cfg)
    print("all checks passed" if not r.failed else f"{r.failed} check(s) failed")
    return 1 if r.failed else 0
