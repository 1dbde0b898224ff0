"""The USB keypad: a Linux input device read with python-evdev, its keys handed to the desk.

The phrase pad on GPIO has room for a handful of keys; a USB keypad (or a whole USB keyboard)
carries the rest of the script. This role opens the configured input device, grabs it (so its
presses do not also type into a console or a desktop), and puts every press and release of a
bound key on the desk's edge queue, stamped on the monotonic clock the service uses, exactly as
the GPIO keys do. What a key means is the key map's business (``[keypad]`` in the settings);
this module only knows which key is bound to which name on which layer::

    key map:  layer 0 (plain)      KEY_KP1 -> "phrase:wrong_number"
              layer 1 (modifier)   KEY_KP1 -> "phrase:complaint_deadline?days=15"

    KEY_LEFTSHIFT  ▁▁▔▔▔▔▔▔▔▔▁▁▁▁▁▁      (a modifier: held, it selects layer 1)
    KEY_KP1        ▁▁▁▁▔▔▔▁▁▁▁▔▔▔▁▁
    edges              ▲ pad:phrase:complaint_deadline?days=15   ▲ pad:phrase:wrong_number

The layer is taken when the key goes down; its release goes to the same binding, whatever the
modifier did meanwhile. Auto-repeat is ignored. The edges' source is ``pad:<name>``: the
keypad's own firmware has debounced them, so a press counts at once.

The device is named by a path (``/dev/input/deskline-keypad``, the udev rule's symlink, or one
under ``/dev/input/by-id/``), by ``usb:VVVV:PPPP`` (vendor and product id: every desk with the
same keypad model has the same line) or by ``name:<part of its name>``. The last two are looked
up in sysfs, without opening any other input device. A keypad unplugged mid-shift is logged
once and looked for again every ``retry_s``; it is picked up again when it is back.
"""
from __future__ import annotations

import fcntl
import glob
import logging
import os
import re
import select
import struct
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from deskline.exc import HardwareError
from deskline.hw.roles import Edge

log = logging.getLogger(__name__)

#: the edges' source prefix: a key the device has debounced itself
SOURCE_PREFIX = "pad:"
#: EVIOCSCLOCKID = _IOW('E', 0xa0, int): the clock the device stamps its events with
EVIOCSCLOCKID = 0x400445A0
SYSFS_INPUT = "/sys/class/input"
_USB = re.compile(r"usb:([0-9a-fA-F]{4}):([0-9a-fA-F]{4})")


def _ecodes():
    try:
        from evdev import ecodes
    except ImportError as exc:   # not on Linux, or installed without it
        raise HardwareError(f"python-evdev is not installed ({exc}); the USB keypad needs it "
                            "(pip install evdev)") from exc
    return ecodes


def key_code(name: str) -> int | None:
    """The Linux key code of ``name`` ("KEY_KP1", "kp1", "KP_1" is not one); None if unknown.

    Case does not matter and ``KEY_`` may be left out. Raises HardwareError without evdev.
    """
    ecodes = _ecodes()
    want = name.strip().upper()
    if not want.startswith(("KEY_", "BTN_")):
        want = "KEY_" + want
    code = ecodes.ecodes.get(want)
    if code is None or not (want.startswith(("KEY_", "BTN_")) and code in ecodes.KEY.keys()
                            | ecodes.BTN.keys()):
        return None
    return code


def key_name(code: int) -> str:
    """The canonical name of a key code (the first of its names, as evdev lists them)."""
    ecodes = _ecodes()
    names = ecodes.KEY.get(code) or ecodes.BTN.get(code) or f"KEY_{code}"
    return names if isinstance(names, str) else sorted(names)[0]


@dataclass(frozen=True, slots=True)
class KeyMap:
    """Key codes to names, per layer; ``modifiers`` are the codes that select layer 1."""

    layers: tuple[Mapping[int, str], Mapping[int, str]]
    modifiers: frozenset[int]

    def binding(self, code: int, layer: int) -> str | None:
        return self.layers[layer].get(code)

    def codes(self) -> set[int]:
        return set(self.layers[0]) | set(self.layers[1]) | set(self.modifiers)


def find_device(spec: str, want_codes=()) -> str | None:
    """The event node the device spec names, if it is there now (None if it is not).

    A path is taken as it is (a symlink resolved); ``usb:VVVV:PPPP`` and ``name:TEXT`` are
    looked up in sysfs. A device with several event nodes (a keyboard's keys and its media
    keys) gives the node that has most of ``want_codes``.
    """
    if spec.startswith("/"):
        return os.path.realpath(spec) if os.path.exists(spec) else None
    m = _USB.fullmatch(spec)
    found = []
    for node in sorted(glob.glob(os.path.join(SYSFS_INPUT, "event*"))):
        dev = os.path.join(node, "device")
        if m:
            ids = (_read(os.path.join(dev, "id", "vendor")), _read(os.path.join(dev, "id", "product")))
            if ids != (m.group(1).lower(), m.group(2).lower()):
                continue
        elif spec.startswith("name:"):
            if spec[5:].strip().casefold() not in _read(os.path.join(dev, "name")).casefold():
                continue
        else:
            return None
        bits = _key_bits(_read(os.path.join(dev, "capabilities", "key")))
        found.append((sum(1 for c in want_codes if c in bits), node))
    if not found:
        return None
    best = max(found, key=lambda f: f[0])[1]
    return os.path.join("/dev/input", os.path.basename(best))


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def _key_bits(text: str) -> set[int]:
    """The codes set in a sysfs capability bitmap (hex words, most significant first)."""
    codes: set[int] = set()
    words = text.split()
    width = struct.calcsize("l") * 8
    for i, word in enumerate(reversed(words)):
        value = int(word, 16)
        for bit in range(width):
            if value >> bit & 1:
                codes.add(i * width + bit)
    return codes


class KeypadRole:
    """One USB keypad: its bound keys' presses and releases as ``pad:<name>`` edges.

    ``open=False`` builds it without a device (the fake desk's keypad): :meth:`feed` then takes
    the key events, and :meth:`unplug` / :meth:`plug` play the cable.
    """

    def __init__(self, spec: str, keymap: KeyMap, on_edge: Callable[[Edge], None], *,
                 retry_s: float = 1.0, open: bool = True):
        self.spec = spec
        self.keymap = keymap
        self.retry_s = retry_s
        self._on_edge = on_edge
        self._lock = threading.Lock()
        self._held_mods: set[int] = set()
        self._down: dict[int, str] = {}       # code -> the binding its press went to
        self.path: str | None = None
        self.present = False
        self.problem = "not opened yet"
        self.presses = 0
        self._dev = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if open:
            self._thread = threading.Thread(target=self._run, name="keypad", daemon=True)
            self._thread.start()
        else:
            self.present, self.problem, self.path = True, "", "fake"

    # --- the key logic (also what the fake desk drives) ------------------------------------------

    def feed(self, code: int, value: int, mono_s: float | None = None) -> None:
        """One key event: ``value`` 1 = down, 0 = up, 2 = auto-repeat (ignored)."""
        t = time.monotonic() if mono_s is None else mono_s
        with self._lock:
            if code in self.keymap.modifiers:
                (self._held_mods.add if value else self._held_mods.discard)(code)
                return
            if value == 1 and code not in self._down:
                name = self.keymap.binding(code, 1 if self._held_mods else 0)
                if name is None:
                    log.debug("keypad: key %s (layer %d) is not bound", code, bool(self._held_mods))
                    return
                self._down[code] = name
                self.presses += 1
                edge = Edge(SOURCE_PREFIX + name, True, t)
            elif value == 0 and code in self._down:
                edge = Edge(SOURCE_PREFIX + self._down.pop(code), False, t)
            else:
                return
        self._on_edge(edge)

    def _let_go(self, mono_s: float) -> None:
        """The keypad went away: every key still down is up now, every modifier let go."""
        with self._lock:
            held = list(self._down.values())
            self._down.clear()
            self._held_mods.clear()
        for name in held:
            self._on_edge(Edge(SOURCE_PREFIX + name, False, mono_s))

    def unplug(self) -> None:
        """(The fake keypad) the cable is pulled."""
        self._gone("unplugged (fake)")

    def plug(self) -> None:
        """(The fake keypad) the cable is back."""
        if not self.present:
            self.present, self.problem = True, ""
            log.warning("keypad %s is back", self.spec)

    # --- the device ----------------------------------------------------------------------------

    def _gone(self, why: str) -> None:
        was = self.present
        self.present, self.problem = False, why
        self._let_go(time.monotonic())
        if was:
            log.warning("keypad %s is gone (%s); looking for it every %g s", self.spec, why,
                        self.retry_s)

    def _open(self):
        from evdev import InputDevice

        path = find_device(self.spec, self.keymap.codes())
        if path is None:
            raise HardwareError(f"no input device {self.spec}")
        dev = InputDevice(path, readonly=True)
        try:
            # stamp events on CLOCK_MONOTONIC, the service's clock (the default is wall time)
            fcntl.ioctl(dev.fd, EVIOCSCLOCKID, struct.pack("i", time.CLOCK_MONOTONIC))
            self._clock_offset_s = 0.0
        except OSError:
            self._clock_offset_s = time.monotonic() - time.time()
        try:
            dev.grab()
        except OSError as exc:
            dev.close()
            raise HardwareError(f"{path} is held by another program ({exc.strerror})") from exc
        return dev, path

    def _run(self) -> None:
        said_missing = opened = False
        while not self._stop.is_set():
            try:
                self._dev, self.path = self._open()
            except (HardwareError, OSError) as exc:
                why = getattr(exc, "strerror", None) or str(exc)
                if not said_missing and not opened:
                    log.warning("keypad %s: %s; looking for it every %g s", self.spec, why,
                                self.retry_s)
                said_missing = True
                self.present, self.problem = False, why
                self._stop.wait(self.retry_s)
                continue
            self.present, self.problem = True, ""
            (log.warning if opened else log.info)("keypad %s %s: %s (%s)", self.spec,
                                                  "is back" if opened else "open",
                                                  self.path, self._dev.name)
            opened = True
            self._read()
            dev, self._dev = self._dev, None
            try:
                dev.close()
            except OSError:
                pass
            if not self._stop.is_set():
                self._stop.wait(self.retry_s)

    def _read(self) -> None:
        from evdev import ecodes

        dev = self._dev
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([dev.fd], [], [], 0.25)
                if not ready:
                    continue
                for ev in dev.read():
                    if ev.type == ecodes.EV_KEY:
                        self.feed(ev.code, ev.value, ev.timestamp() + self._clock_offset_s)
            except BlockingIOError:
                continue
            except OSError as exc:   # ENODEV: unplugged
                self._gone(exc.strerror or str(exc))
                return

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        dev, self._dev = self._dev, None
        if dev is not None:
            try:
                dev.close()
            except OSError:
                pass

    def snapshot(self) -> dict:
        return {"present": self.present, "path": self.path, "problem": self.problem,
                "presses": self.presses}


def udev_rule(spec: str, group: str = "deskline", symlink: str = "input/deskline-keypad") -> str:
    """The udev rule that gives the keypad ``spec`` names to ``group`` (and only it, of all the
    input devices) and a stable symlink; for ``install.sh``."""
    m = _USB.fullmatch(spec)
    if m:
        # the input device's own ids (the same sysfs files find_device reads), not the USB
        # parent's idVendor: they are there for any input device, a virtual one too
        match = (f'ATTRS{{id/vendor}}=="{m.group(1).lower()}", '
                 f'ATTRS{{id/product}}=="{m.group(2).lower()}"')
    elif spec.startswith("name:"):
        match = f'ATTRS{{name}}=="*{spec[5:].strip()}*"'
    elif spec.startswith("/dev/input/") and spec.count("/") == 4 and \
            spec.split("/")[3] in ("by-id", "by-path"):
        match = f'SYMLINK=="{spec[len("/dev/"):]}"'
    elif spec == "/dev/" + symlink:
        raise HardwareError(f"{spec} is the rule's own symlink: name the keypad by usb:VVVV:PPPP, "
                            "name: or its /dev/input/by-id path")
    else:
        raise HardwareError(f"cannot write a udev rule for {spec!r} (use usb:VVVV:PPPP, "
                            "name:TEXT or /dev/input/by-id/...)")
    return ("# deskline's USB keypad: readable by the deskline group (no other input device is),\n"
            "# with a stable name. Written by install.sh from [keypad] device.\n"
            f'SUBSYSTEM=="input", KERNEL=="event*", {match}, '
            f'GROUP="{group}", MODE="0640", SYMLINK+="{symlink}"\n')
