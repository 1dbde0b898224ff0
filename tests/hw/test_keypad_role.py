"""The keypad role's key logic (layers, releases, auto-repeat, a cable pulled with a key down),
finding the device in sysfs, and the udev rule install.sh writes."""
import queue

import pytest

from deskline.exc import HardwareError
from deskline.hw import keypad as kp
from deskline.hw.keypad import KeyMap, KeypadRole, find_device, key_code, udev_rule

A, B, SHIFT = key_code("KEY_KP1"), key_code("KEY_KP2"), key_code("KEY_NUMLOCK")


def role():
    edges = queue.Queue()
    keymap = KeyMap(layers=({A: "phrase:wrong_number", B: "hold"},
                            {A: "phrase:ask_surname?title=女士"}), modifiers=frozenset({SHIFT}))
    return KeypadRole("usb:1c4f:0002", keymap, edges.put, open=False), edges


def drain(q):
    out = []
    while not q.empty():
        e = q.get_nowait()
        out.append((e.source, e.active, e.mono_s))
    return out


def test_key_names():
    assert key_code("KEY_KP1") == key_code("kp1") == key_code("Kp1") == 79
    assert key_code("KEY_NOPE") is None and key_code("EV_KEY") is None
    assert kp.key_name(79) == "KEY_KP1"


def test_layers_releases_and_auto_repeat():
    r, q = role()
    r.feed(A, 1, 1.0)
    r.feed(A, 2, 1.2)                     # auto-repeat: nothing
    r.feed(A, 0, 1.3)
    r.feed(SHIFT, 1, 2.0)
    r.feed(A, 1, 2.1)
    r.feed(SHIFT, 0, 2.2)                 # the modifier let go first: the release still goes
    r.feed(A, 0, 2.3)                     # to the binding the press went to
    r.feed(SHIFT, 1, 3.0)
    r.feed(B, 1, 3.1)                     # nothing bound to B in the second layer
    r.feed(B, 0, 3.2)
    assert drain(q) == [("pad:phrase:wrong_number", True, 1.0),
                        ("pad:phrase:wrong_number", False, 1.3),
                        ("pad:phrase:ask_surname?title=女士", True, 2.1),
                        ("pad:phrase:ask_surname?title=女士", False, 2.3)]
    assert r.presses == 2


def test_a_cable_pulled_with_a_key_down_lets_it_go_and_the_modifier_too(caplog):
    r, q = role()
    r.feed(SHIFT, 1, 1.0)
    r.feed(A, 1, 1.1)
    r.unplug()
    r.unplug()
    got = drain(q)
    assert [g[:2] for g in got] == [("pad:phrase:ask_surname?title=女士", True),
                                    ("pad:phrase:ask_surname?title=女士", False)]
    assert not r.present and sum("is gone" in m for m in caplog.messages) == 1
    r.plug()
    r.feed(A, 1, 5.0)                     # the modifier is no longer held
    assert drain(q) == [("pad:phrase:wrong_number", True, 5.0)]


def sysfs(tmp_path, n, vendor, product, name, keys_hex):
    dev = tmp_path / f"event{n}" / "device"
    (dev / "id").mkdir(parents=True)
    (dev / "capabilities").mkdir()
    (dev / "id" / "vendor").write_text(vendor + "\n")
    (dev / "id" / "product").write_text(product + "\n")
    (dev / "name").write_text(name + "\n")
    (dev / "capabilities" / "key").write_text(keys_hex + "\n")


def test_find_device_by_usb_id_and_name_picks_the_node_with_the_keys(tmp_path, monkeypatch):
    monkeypatch.setattr(kp, "SYSFS_INPUT", str(tmp_path))
    sysfs(tmp_path, 3, "046d", "c31c", "Logitech USB Keyboard", "0")
    sysfs(tmp_path, 4, "1c4f", "0002", "SIGMACHIP Keypad Consumer Control", "1")
    # KEY_KP1 = 79 is bit 15 of the second 64-bit word
    sysfs(tmp_path, 5, "1c4f", "0002", "SIGMACHIP Keypad", "8000 0")
    assert find_device("usb:1C4F:0002", {A}) == "/dev/input/event5"
    assert find_device("name:sigmachip", {A}) == "/dev/input/event5"
    assert find_device("name:logitech", {A}) == "/dev/input/event3"
    assert find_device("usb:dead:beef", {A}) is None
    assert find_device(str(tmp_path / "nothing-here"), {A}) is None


def test_udev_rule():
    rule = udev_rule("usb:1C4F:0002")
    assert 'ATTRS{id/vendor}=="1c4f", ATTRS{id/product}=="0002"' in rule
    assert 'GROUP="deskline", MODE="0640", SYMLINK+="input/deskline-keypad"' in rule
    assert 'SYMLINK=="input/by-id/usb-SEM_Keypad-event-kbd"' in udev_rule(
        "/dev/input/by-id/usb-SEM_Keypad-event-kbd")
    with pytest.raises(HardwareError, match="own symlink"):
        udev_rule("/dev/input/deskline-keypad")
    with pytest.raises(HardwareError, match="cannot write a udev rule"):
        udev_rule("/dev/input/event3")
