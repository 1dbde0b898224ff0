"""The USB keypad through Linux itself: a virtual keyboard made with uinput (evdev.UInput) is
the keypad. The role finds it by name in sysfs, grabs it, and its typed keys (with the modifier
held for the second layer) reach the service as phrases with the map's values; the keyboard
destroyed mid-call (unplugged) is survived, and made again (plugged back) is picked up.

Needs /dev/uinput (``modprobe uinput``, and the right to write it). Where there is none, the
tests skip and say so; bench/systemd_vm.sh runs them in its Debian VM, whose kernel has it.
"""
import os
import queue
import time

import pytest

evdev = pytest.importorskip("evdev", reason="python-evdev is not installed")

if not os.path.exists("/dev/uinput"):
    pytest.skip("no /dev/uinput on this machine (its kernel has no uinput module; as root: "
                "modprobe uinput); bench/systemd_vm.sh runs these in a Debian VM",
                allow_module_level=True)
if not os.access("/dev/uinput", os.W_OK):
    pytest.skip("/dev/uinput is not writable by this user (run as root)", allow_module_level=True)

from evdev import UInput, ecodes as e  # noqa: E402

from test_service_loop import ScriptedCard, SilentMeter, run_for, tone  # noqa: E402

from deskline.call.controller import Controller  # noqa: E402
from deskline.call.edges import EdgeInterpreter  # noqa: E402
from deskline.config import loads_config  # noqa: E402
from deskline.hw import fake  # noqa: E402
from deskline.hw.keypad import KeypadRole, find_device  # noqa: E402
from deskline.hw.roles import DeskPins  # noqa: E402
from deskline.live.service import Service, ServiceParts  # noqa: E402
from deskline.phrases.queue import PhraseQueue  # noqa: E402

NAME = f"deskline test keypad {os.getpid()}"
KEYS = [e.KEY_KP1, e.KEY_KP2, e.KEY_KPENTER, e.KEY_NUMLOCK, e.KEY_KP9]
CONFIG = f"""
[desk]
hotline_name = "12385热线"
agent_no = "7"
[keypad]
device = "name:{NAME}"
modifier = "KEY_NUMLOCK"
retry_s = 0.2
[keypad.keys]
KEY_KP1 = "phrase:wrong_number"
KEY_KP2 = "phrase:complaint_deadline?title=先生&days=5"
KEY_KPENTER = "hold"
[keypad.shift]
KEY_KP2 = "phrase:complaint_deadline?title=女士&days=15"
"""


def keyboard():
    return UInput({e.EV_KEY: KEYS}, name=NAME, vendor=0x1209, product=0x0001)


def until(cond, limit_s=5.0, step=None):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if cond():
            return True
        step() if step else time.sleep(0.02)
    return cond()


def tap(ui, *codes):
    """Press the keys in order (the first ones held as modifiers), then let them go."""
    for c in codes:
        ui.write(e.EV_KEY, c, 1)
        ui.syn()
        time.sleep(0.02)
    time.sleep(0.05)
    for c in reversed(codes):
        ui.write(e.EV_KEY, c, 0)
        ui.syn()
        time.sleep(0.02)


def test_typed_keys_arrive_as_edges_on_the_services_clock_and_the_device_is_grabbed():
    cfg = loads_config(CONFIG, "desk.toml")
    edges = queue.Queue()
    ui = keyboard()
    role = KeypadRole(cfg.keypad.device, cfg.keypad.keymap(), edges.put, retry_s=0.2)
    try:
        assert until(lambda: role.present), role.problem
        assert role.path == find_device(cfg.keypad.device)
        with pytest.raises(OSError):              # grabbed: no one else gets the keys
            other = evdev.InputDevice(role.path)
            try:
                other.grab()
            finally:
                other.close()
        t0 = time.monotonic()
        tap(ui, e.KEY_KP1)
        tap(ui, e.KEY_NUMLOCK, e.KEY_KP2)
        tap(ui, e.KEY_KP9)                        # not bound
        assert until(lambda: edges.qsize() >= 4)
        time.sleep(0.2)
        got = [edges.get_nowait() for _ in range(edges.qsize())]
        assert [(g.source, g.active) for g in got] == [
            ("pad:phrase:wrong_number", True), ("pad:phrase:wrong_number", False),
            ("pad:phrase:complaint_deadline?title=女士&days=15", True),
            ("pad:phrase:complaint_deadline?title=女士&days=15", False)]
        # the kernel's timestamps, on the monotonic clock the service keeps time by
        assert all(t0 - 0.01 <= g.mono_s <= time.monotonic() for g in got)
        assert got[0].mono_s < got[1].mono_s < got[2].mono_s < got[3].mono_s
        assert 0.05 <= got[1].mono_s - got[0].mono_s < 1.0   # held about 70 ms
    finally:
        role.close()
        ui.close()


@pytest.fixture
def desk_with_keypad(tmp_path):
    cfg = loads_config(CONFIG, "desk.toml")
    desk = fake.open_desk(DeskPins.from_config(cfg.hw))
    ui = [keyboard()]
    role = KeypadRole(cfg.keypad.device, cfg.keypad.keymap(), desk.post, retry_s=0.2)
    desk.keypad = role
    asked = []

    def source(phrase, values, lang, rate_hz):
        asked.append((phrase, dict(values)))
        return tone(phrase, values, lang, rate_hz)

    card = ScriptedCard()
    statuses = []

    class Notifier:
        ready = watchdog = stopping = lambda self, *a: None
        status = lambda self, text: statuses.append(text)  # noqa: E731

    svc = Service(ServiceParts(
        desk=desk, audio=card, controller=Controller(cfg.profile, cfg.desk),
        meter_factory=SilentMeter, phrases=lambda rate: PhraseQueue(rate, source, lang="zh"),
        edges=EdgeInterpreter.from_config(cfg.hw), analysis_s=0.01, stall_s=0.5, retry_s=0.0,
        notifier=Notifier(), on_close=[role.close, desk.close]))
    svc.start()
    yield svc, desk, ui, asked, statuses
    svc.shutdown()
    for u in ui:
        u.close()


def test_the_service_plays_the_keypads_phrases_and_survives_it_unplugged(desk_with_keypad):
    svc, desk, ui, asked, statuses = desk_with_keypad
    assert until(lambda: desk.keypad.present, step=lambda: run_for(svc, 0.05))
    desk.factory.pin(17).drive_low()              # the handset lifted
    run_for(svc, 0.6)
    tap(ui[0], e.KEY_KP1)
    run_for(svc, 0.5)
    tap(ui[0], e.KEY_NUMLOCK, e.KEY_KP2)
    run_for(svc, 0.5)
    tap(ui[0], e.KEY_KPENTER)
    run_for(svc, 3.0)                             # asked, and muted after 2 s without an answer
    assert [p for p, _ in asked] == ["greeting", "wrong_number", "complaint_deadline", "hold_ask"]
    assert desk.mute.on
    assert asked[2][1]["title"] == "女士" and asked[2][1]["days"] == "15"

    ui[0].close()                                 # unplugged mid-call
    assert until(lambda: not desk.keypad.present, step=lambda: run_for(svc, 0.05))
    run_for(svc, 0.3)
    assert statuses[-1] == f"keypad name:{NAME} missing; looking for it"
    ui[0] = keyboard()                            # plugged back in
    assert until(lambda: desk.keypad.present, step=lambda: run_for(svc, 0.05))
    run_for(svc, 0.1)
    assert statuses[-1] == f"serving: keypad name:{NAME} back"
    tap(ui[0], e.KEY_KPENTER)                     # back from the hold
    run_for(svc, 0.5)
    tap(ui[0], e.KEY_KP2)
    run_for(svc, 0.5)
    assert [p for p, _ in asked][4:] == ["hold_resume", "complaint_deadline"]
    assert asked[-1][1]["title"] == "先生" and asked[-1][1]["days"] == "5"
