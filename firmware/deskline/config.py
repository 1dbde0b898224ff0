"""The desk's configuration: one TOML file, checked key by key, into frozen dataclasses.

Sections: ``[desk]`` (names for the greeting, language, profile), ``[profiles.<name>]``
(controller timings and thresholds, see :class:`deskline.call.profile.Profile`), ``[hw]`` (GPIO
backend, BCM pins, debounce and flash windows; ``[hw.phrase_keys]``: the phrase pad, one
``<phrase id> = <BCM pin>`` a key), ``[audio]`` (sound card, rates, channels),
``[phrases]`` (a centre's own recordings), ``[journal]`` (the call record), ``[floor]``
(the floor's MQTT broker; see :mod:`deskline.floor.link`), ``[keypad]`` (the USB keypad and its
key map; :class:`KeypadConfig`). Every key is
optional; what is missing takes the built-in default, which is also what
``deskline config show`` prints. The commented example is ``deskline/data/deskline.example.toml``.

A user profile extends another (``base = "standard"``, the default) or redefines a built-in
one by using its name. An unknown key, a wrong type or an impossible value (a negative time,
a level above 0 dBov, a pin outside BCM 0–27, a pin used twice) raises :class:`ConfigError`
with one line ``FILE:LINE: key: problem``.

Where the file comes from (:func:`config_path`): the path given, else ``$DESKLINE_CONFIG``,
else ``/etc/deskline/deskline.toml`` if it exists, else the built-in defaults. The system file
is readable by root and the ``deskline`` group only (install.sh makes it so); anyone else is
told so in one line, and the commands that work on recordings (``simulate``) fall back to the
built-in settings.
"""
from __future__ import annotations

import dataclasses
import grp
import logging
import math
import os
import pwd
import re
import tomllib
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Mapping

from deskline.call.profile import BUILTIN_PROFILES, PROFILE_KEYS, DeskIdentity, Profile
from deskline.exc import ConfigError

log = logging.getLogger(__name__)

#: Where ``install`` puts the file and where the service looks for it.
SYSTEM_PATH = "/etc/deskline/deskline.toml"
ENV_VAR = "DESKLINE_CONFIG"
NONE = "none"  # an optional pin or channel that is not there


@dataclass(frozen=True, slots=True)
class HwConfig:
    """GPIO backend and BCM pins; the debounce and hook-flash windows of the inputs."""

    backend: str = "gpiozero"           # "gpiozero" | "fake"
    pin_factory: str = ""               # gpiozero factory ("lgpio", "mock" …); "" = its default
    hook_pin: int = 17
    ring_pin: int = 27
    mute_led_pin: int = 22
    mute_relay_pin: int = 23
    line_release_pin: int | None = 24   # "none": no relay, the LED asks the agent to hang up
    beacon_pin: int | None = None       # a desk beacon lit while a supervisor call stands
    hold_key_pin: int | None = 5
    greet_key_pin: int | None = 6
    anything_else_key_pin: int | None = 13
    goodbye_key_pin: int | None = 19
    supervisor_key_pin: int | None = 26
    louder_key_pin: int | None = None
    #: the phrase pad: catalog phrase id -> BCM pin of its key (``[hw.phrase_keys]``)
    phrase_keys: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    hook_debounce_s: float = 0.05
    key_debounce_s: float = 0.03
    flash_min_s: float = 0.1
    flash_max_s: float = 0.9
    ring_min_s: float = 0.1
    ring_off_s: float = 0.5

    def pins(self) -> dict[str, int]:
        """Every configured pin by key name (phrase keys as ``phrase_keys.<id>``)."""
        pins = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name.endswith("_pin") and getattr(self, f.name) is not None}
        pins.update({f"phrase_keys.{pid}": pin for pid, pin in self.phrase_keys.items()})
        return pins


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """The sound card(s) by ALSA name and how the line is captured."""

    card: str = ""          # name (or part of it) of the capture card; "" = system default
    output_card: str = ""   # card the phrases play on; "" = the same as ``card``
    rate_hz: int = 48000
    #: line analysis block: the longest the call logic waits for what the meters hear (it is
    #: analysed sooner, up to now, whenever a decision falls due)
    block_s: float = 1.0
    rx_channel: int = 0
    tx_channel: int | None = 1  # "none": the transmit tap is not wired
    #: call-progress tone plans to listen for (ITU-T E.180: cn, eu, uk, na); a desk that
    #: listens only for its own country's tones spends far less on the line meter
    tone_plans: tuple[str, ...] = ("cn", "eu", "uk", "na")
    #: "card" (PortAudio), "fake" (a recording as the caller, no sound server), or "auto":
    #: fake on the fake desk (``[hw] backend = "fake"`` or DESKLINE_HW=fake) when no card is
    #: named, else the card
    backend: str = "auto"
    #: the fake card's caller (a recording; mono = receive, stereo = receive, transmit)
    fake_caller: str = ""
    #: where the fake card writes what the device says (a WAV file; "" = nowhere)
    fake_output: str = ""


@dataclass(frozen=True, slots=True)
class PhrasesConfig:
    """Where a centre's own phrase recordings are (they override the built-in ones)."""

    dir: str = ""


@dataclass(frozen=True, slots=True)
class JournalConfig:
    """Where the call record lives."""

    path: str = "/var/lib/deskline/calls.db"


@dataclass(frozen=True, slots=True)
class FloorConfig:
    """The floor's broker (``[floor]``); without ``host`` the desk opens no socket."""

    host: str = ""
    port: int = 1883
    credentials_file: str = ""   # one line ``<user>:<password>``, readable by the service only
    site: str = ""
    desk_id: str = ""
    ca_file: str = ""            # TLS with this CA when set
    far_end_wait_s: float = 10.0  # far-end hang-up this long without the on-hook: an alert

    @property
    def enabled(self) -> bool:
        return bool(self.host)


#: the keypad's built-in key map (every agent-triggered phrase of the shipped catalog)
BUILTIN_KEYMAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "keypad.toml")


@dataclass(frozen=True, slots=True)
class KeypadConfig:
    """The USB keypad (``[keypad]``): which input device, its modifier keys and its key map.

    ``keys`` is the plain layer and ``shift`` the layer while a ``modifier`` key is held, each
    key name (as Linux names it: ``KEY_KP1``) to what it does: a desk key (``hold``, ``greet``,
    ``anything_else``, ``goodbye``, ``supervisor``, ``louder``) or ``phrase:<id>`` with the
    values of its template fields (``phrase:complaint_deadline?title=女士&days=15``). Without
    ``[keypad.keys]`` and ``[keypad.shift]`` the built-in map (``deskline/data/keypad.toml``)
    is used; ``map_path`` is the file the map was read from (for error lines).
    """

    device: str = ""                    # "" = no keypad
    #: "evdev" (the device), "fake" (the fake desk's socket presses it), or "auto": fake on
    #: the fake desk, else the device
    backend: str = "auto"
    modifier: tuple[str, ...] = ("KEY_LEFTSHIFT", "KEY_RIGHTSHIFT")   # held: [keypad.shift]
    retry_s: float = 1.0
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    shift: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    map_path: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.device)

    def bindings(self) -> list[tuple[int, str, str]]:
        """``(layer, key name as written, action)`` of every binding, plain layer first."""
        return [(0, k, v) for k, v in self.keys.items()] + \
            [(1, k, v) for k, v in self.shift.items()]

    def keymap(self):
        """The map as :class:`deskline.hw.keypad.KeyMap` (key codes; needs python-evdev)."""
        from deskline.hw.keypad import KeyMap, key_code

        return KeyMap(layers=tuple(MappingProxyType({key_code(k): v for k, v in layer.items()})
                                   for layer in (self.keys, self.shift)),
                      modifiers=frozenset(key_code(k) for k in self.modifier))


_DEFAULT_MODIFIER = ("KEY_LEFTSHIFT", "KEY_RIGHTSHIFT")


@dataclass(frozen=True, slots=True)
class DeskConfig:
    """The ``[desk]`` section as written."""

    hotline_name: str = ""
    hotline_name_en: str = ""
    agent_no: str = ""
    language: str = "zh"
    profile: str = "standard"


@dataclass(frozen=True, slots=True)
class Config:
    """The whole effective configuration."""

    desk_section: DeskConfig = field(default_factory=DeskConfig)
    profiles: Mapping[str, Profile] = field(
        default_factory=lambda: MappingProxyType(dict(BUILTIN_PROFILES)))
    hw: HwConfig = field(default_factory=HwConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    phrases: PhrasesConfig = field(default_factory=PhrasesConfig)
    journal: JournalConfig = field(default_factory=JournalConfig)
    floor: FloorConfig = field(default_factory=FloorConfig)
    keypad: KeypadConfig = field(default_factory=KeypadConfig)
    path: str | None = None

    @classmethod
    def default(cls) -> "Config":
        """The built-in defaults (no file)."""
        return cls()

    @property
    def profile(self) -> Profile:
        """The profile the desk runs (``[desk] profile``)."""
        return self.profiles[self.desk_section.profile]

    @property
    def desk(self) -> DeskIdentity:
        """What the controller needs about the desk (names, whether a release relay is fitted)."""
        d = self.desk_section
        return DeskIdentity(hotline_name=d.hotline_name, hotline_name_en=d.hotline_name_en,
                    agent_no=d.agent_no, language=d.language,
                    line_release=self.hw.line_release_pin is not None)

    def to_dict(self) -> dict:
        """Plain data, as the TOML file would hold it (``None`` pins as ``"none"``)."""
        def value(v):
            if v is None:
                return NONE
            return dict(v) if isinstance(v, Mapping) else v

        def section(obj) -> dict:
            return {f.name: value(getattr(obj, f.name)) for f in fields(obj)}
        profiles = {}
        for name, prof in self.profiles.items():
            profiles[name] = {k: getattr(prof, k) for k in PROFILE_KEYS}
        return {"desk": section(self.desk_section), "profiles": profiles,
                "hw": section(self.hw), "audio": section(self.audio),
                "phrases": section(self.phrases), "journal": section(self.journal),
                "floor": section(self.floor),
                "keypad": {k: v for k, v in section(self.keypad).items() if k != "map_path"}}

    def to_toml(self) -> str:
        """The effective configuration as a TOML file (every key, every profile)."""
        data = self.to_dict()
        lines = [f"# effective deskline configuration ({self.path or 'built-in defaults'})"]
        for sec in ("desk", "hw", "audio", "phrases", "journal", "floor", "keypad"):
            if sec == "floor" and not self.floor.enabled:
                lines += ["", "# [floor] not set: the desk reports to no floor and opens no socket"]
                continue
            if sec == "keypad":
                if not self.keypad.enabled:
                    lines += ["", "# [keypad] not set: no USB keypad"]
                    continue
                if self.keypad.map_path == BUILTIN_KEYMAP:
                    lines += ["", f"# the built-in key map ({BUILTIN_KEYMAP})"]
            lines += ["", f"[{sec}]"] + [f"{k} = {_toml_value(v)}" for k, v in data[sec].items()
                                         if not isinstance(v, dict)]
            if sec == "hw":
                lines += ["", "[hw.phrase_keys]"]
                lines += [f"{_toml_key(k)} = {_toml_value(v)}"
                          for k, v in data["hw"]["phrase_keys"].items()]
            if sec == "keypad":
                for table in ("keys", "shift"):
                    lines += ["", f"[keypad.{table}]"]
                    lines += [f"{_toml_key(k)} = {_toml_value(v)}"
                              for k, v in data["keypad"][table].items()]
        for name, values in data["profiles"].items():
            lines += ["", f"[profiles.{_toml_key(name)}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml_value(name)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


# --- checking values -------------------------------------------------------------------------

class _Bad(Exception):
    """A value is wrong; the message is the problem, the caller adds file, line and key."""


def _typename(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            dict: "a table", list: "an array"}.get(type(v), type(v).__name__)


def _want_str(v):
    if not isinstance(v, str):
        raise _Bad(f"must be a string, not {_typename(v)}")
    return v


def _want_bool(v):
    if not isinstance(v, bool):
        raise _Bad(f"must be true or false, not {_typename(v)}")
    return v


def _want_int(v, lo=None, hi=None):
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(f"must be an integer, not {_typename(v)}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise _Bad(f"{v} is out of range {lo}..{hi}")
    return v


def _want_float(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Bad(f"must be a number, not {_typename(v)}")
    v = float(v)
    if not math.isfinite(v):
        raise _Bad(f"{v} is not a finite number")
    return v


def _time(v, *, positive=False):
    v = _want_float(v)
    if v < 0:
        raise _Bad(f"{v:g} s: a time cannot be negative")
    if positive and v == 0:
        raise _Bad("must be more than 0 s")
    if v > 3600:
        raise _Bad(f"{v:g} s is longer than an hour")
    return v


def _dbov(v):
    v = _want_float(v)
    if v > 0:
        raise _Bad(f"{v:g} dBov: a level cannot be above 0 dBov (full scale)")
    if v < -100:
        raise _Bad(f"{v:g} dBov is below the meter's floor (-100 dBov)")
    return v


def _db(v, lo, hi):
    v = _want_float(v)
    if not lo <= v <= hi:
        raise _Bad(f"{v:g} dB is out of range {lo}..{hi} dB")
    return v


def _pin(v, optional):
    if optional and isinstance(v, str) and v.lower() == NONE:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        extra = ' or "none"' if optional else ""
        raise _Bad(f"must be a BCM pin number 0-27{extra}, not {_typename(v)}")
    if not 0 <= v <= 27:
        raise _Bad(f"{v} is not a BCM GPIO pin (0-27)")
    return v


def _choice(*options):
    def check(v):
        _want_str(v)
        if v not in options:
            raise _Bad(f"{v!r} is not one of {', '.join(options)}")
        return v
    return check


def _rate(v):
    v = _want_int(v)
    if v not in (8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000):
        raise _Bad(f"{v} Hz is not a sound-card rate (8000-96000)")
    return v


def _channel(v):
    if isinstance(v, str) and v.lower() == NONE:
        return None
    return _want_int(v, 0, 7)


def _agent_no(v):
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return _want_str(v)


_SECTIONS: dict[str, dict[str, Any]] = {
    "desk": {
        "hotline_name": _want_str, "hotline_name_en": _want_str, "agent_no": _agent_no,
        "language": _choice("zh", "en"), "profile": _want_str,
    },
    "hw": {
        "backend": _choice("gpiozero", "fake"), "pin_factory": _want_str,
        **{f.name: (lambda v, o=(f.default is None or f.name in (
            "line_release_pin",) or "key" in f.name): _pin(v, o))
           for f in fields(HwConfig) if f.name.endswith("_pin")},
        "hook_debounce_s": _time, "key_debounce_s": _time,
        "flash_min_s": _time, "flash_max_s": _time,
        "ring_min_s": _time, "ring_off_s": lambda v: _time(v, positive=True),
        "phrase_keys": lambda v: _not_a_table(v),   # the table itself: _Loader.phrase_keys
    },
    "audio": {
        "card": _want_str, "output_card": _want_str, "rate_hz": _rate,
        "block_s": lambda v: _block(v), "rx_channel": lambda v: _want_int(v, 0, 7),
        "tx_channel": _channel, "tone_plans": lambda v: _tone_plans(v),
        "backend": _choice("auto", "card", "fake"), "fake_caller": _want_str,
        "fake_output": _want_str,
    },
    "phrases": {"dir": _want_str},
    "journal": {"path": lambda v: _nonempty(v)},
    "floor": {
        "host": lambda v: _nonempty(v), "port": lambda v: _want_int(v, 1, 65535),
        "credentials_file": lambda v: _nonempty(v), "site": lambda v: _topic_name(v),
        "desk_id": lambda v: _topic_name(v), "ca_file": _want_str,
        "far_end_wait_s": lambda v: _time(v, positive=True),
    },
}


def _topic_name(v):
    from deskline.floor.messages import NAME

    if not NAME.fullmatch(_want_str(v)):
        raise _Bad(f"{v!r}: use letters, digits, '_', '-' or '.' (one MQTT topic level, "
                   "at most 64 characters)")
    return v


#: a phrase id as the catalog allows it (deskline.phrases.catalog checks the same form)
PHRASE_ID = re.compile(r"[a-z][a-z0-9_]*")


def _not_a_table(v):
    raise _Bad("must be a table [hw.phrase_keys] of phrase id = BCM pin, "
               f"not {_typename(v)}")


def _want_str_list(v):
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _Bad(f"must be a key name or a list of key names, not {_typename(v)}")
    return v


_USB_ID = re.compile(r"usb:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}")


def _keypad_device(v):
    v = _want_str(v).strip()
    if not (v.startswith("/dev/") or _USB_ID.fullmatch(v) or
            (v.startswith("name:") and v[5:].strip())):
        raise _Bad(f"{v!r}: name the keypad by its path (/dev/input/by-id/...), by "
                   "usb:VVVV:PPPP (vendor and product id, as lsusb shows them) or by name:TEXT")
    return v


#: what a keypad key can do besides playing a phrase: the desk's own keys
_DESK_KEYS = ("hold", "greet", "anything_else", "goodbye", "supervisor", "louder")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _keypad_action(v):
    """A key map value: a desk key's name, or ``phrase:<id>`` with ``?field=value&…``."""
    v = _want_str(v)
    if v in _DESK_KEYS:
        return v
    if not v.startswith("phrase:"):
        raise _Bad(f"{v!r}: must be phrase:<id> (with ?field=value for its template) or a desk "
                   f"key ({', '.join(_DESK_KEYS)})")
    pid, _, query = v[len("phrase:"):].partition("?")
    if not PHRASE_ID.fullmatch(pid):
        raise _Bad(f"{pid!r} is not a phrase id (lower-case letters, digits and _, as in "
                   "sounds/catalog.toml)")
    seen = set()
    for part in query.split("&") if query else ():
        name, eq, value = part.partition("=")
        if not _FIELD_NAME.fullmatch(name) or not eq or not value.strip():
            raise _Bad(f"{part!r}: a value is written field=value (title=女士, days=15)")
        if name in seen:
            raise _Bad(f"gives {name} twice")
        seen.add(name)
    return v


def _tone_plans(v):
    from deskline.dsp.tone_plans import PLANS

    if not isinstance(v, list) or not v or not all(isinstance(p, str) for p in v):
        raise _Bad(f"must be a list of plan names ({', '.join(PLANS)}), not {v!r}")
    for plan in v:
        if plan not in PLANS:
            raise _Bad(f"unknown tone plan {plan!r} (known: {', '.join(PLANS)})")
    if len(set(v)) != len(v):
        raise _Bad("names a plan twice")
    return tuple(v)


def _block(v):
    v = _time(v, positive=True)
    if v > 1.0:
        raise _Bad(f"{v:g} s is too long for an audio block (at most 1 s)")
    return v


def _nonempty(v):
    if not _want_str(v):
        raise _Bad("must not be empty")
    return v


_POSITIVE_TIMES = {"judge_window_s", "noise_window_s", "quiet_min_speech_s", "noisy_min_speech_s",
                   "silence_timeout_s", "ring_reset_s", "hold_warn_s", "hold_limit_s",
                   "speakerphone_agent_s", "dead_air_s", "pace_window_s", "pace_cue_s"}


def _profile_check(key: str, v):
    if key == "wording":
        from deskline.call.ladder import WORDINGS
        return _choice(*WORDINGS)(v)
    if key == "supervisor_led":
        from deskline.call.events import LED_PATTERNS
        if v == "":
            return v
        return _choice(*(p for p in LED_PATTERNS if p not in ("off", "hang_up", "error")))(v)
    if key == "pace_cue_per_min":
        v = _want_float(v)
        if v != 0.0 and not 130.0 <= v <= 600.0:
            raise _Bad(f"{v:g} is out of range 130..600 syllables a minute (0: no cue)")
        return v
    if key in ("quiet_louder_count", "noisy_louder_count"):
        return _want_int(v, 0, 5)
    if key == "late_after_rings":
        return _want_int(v, 0, 20)
    if key in ("greet_without_ring", "judge_without_tx", "speakerphone_prompt"):
        return _want_bool(v)
    if key == "speakerphone_z":
        v = _want_float(v)
        if not 2.0 <= v <= 1000.0:
            raise _Bad(f"{v:g} is out of range 2..1000 (a z-score against the estimate's noise)")
        return v
    if key == "speakerphone_echo_db":
        return _db(v, -60.0, 20.0)
    if key == "noise_percentile":
        v = _want_float(v)
        if not 0.0 <= v <= 50.0:
            raise _Bad(f"{v:g} is out of range 0..50 (a low percentile of the block levels)")
        return v
    if key == "noise_rise_db_per_s":
        return _db(v, 0.0, 100.0)
    if key.endswith("_s"):
        return _time(v, positive=key in _POSITIVE_TIMES)
    if key.endswith("_dbov"):
        return _dbov(v)
    if key in ("pause_margin_db", "caller_margin_db", "judge_margin_db"):
        return _db(v, 0.0, 60.0)
    if key.endswith("hysteresis_db"):
        return _db(v, 0.0, 20.0)
    if key == "noisy_snr_db":
        return _db(v, -10.0, 60.0)
    raise AssertionError(key)  # every profile key is handled above


# --- finding lines ---------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEYLINE = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\-]+)\s*=""")


def _split_key(raw: str) -> tuple[str, ...]:
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', raw)
    return tuple(a or b or c for a, b, c in parts)


def _line_of(text: str, table: tuple[str, ...], key: str | None) -> int:
    """1-based line where ``key`` is set in ``[table]`` (or the table's header); 0 if unknown."""
    current: tuple[str, ...] = ()
    header_line = 0
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        m = _HEADER.match(line)
        if m and not line.lstrip().startswith("[["):
            current = _split_key(m.group(1))
            if current == table and header_line == 0:
                header_line = n
            continue
        m = _KEYLINE.match(line)
        if m and key is not None:
            full = current + _split_key(m.group(1))
            if full == table + (key,):
                return n
    if header_line:
        return header_line
    needle = key if key is not None else (table[-1] if table else "")
    for n, line in enumerate(lines, 1):
        if needle and re.search(rf"\b{re.escape(needle)}\b", line):
            return n
    return 0


class _Loader:
    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text

    def error(self, table: tuple[str, ...], key: str | None, problem: str) -> ConfigError:
        line = _line_of(self.text, table, key)
        where = f"{self.path}:{line}" if line else self.path
        dotted = ".".join(table + ((key,) if key else ()))
        return ConfigError(f"{where}: {dotted}: {problem}")

    def table(self, data: dict, name: tuple[str, ...]) -> dict:
        cur = data
        for part in name:
            cur = cur.get(part, {})
        if not isinstance(cur, dict):
            raise self.error(name[:-1], name[-1], f"must be a table, not {_typename(cur)}")
        return cur

    def section(self, data: dict, name: str, cls):
        checks = _SECTIONS[name]
        values = {}
        for key, v in self.table(data, (name,)).items():
            if key not in checks:
                raise self.error((name,), key, f"unknown key (known: {', '.join(checks)})")
            if isinstance(v, dict) and (name, key) == ("hw", "phrase_keys"):
                values[key] = self.phrase_keys(v)
                continue
            if isinstance(v, dict):
                raise self.error((name,), key, "must be a value, not a table")
            try:
                values[key] = checks[key](v)
            except _Bad as exc:
                raise self.error((name,), key, str(exc)) from None
        return cls(**values)

    def phrase_keys(self, table: dict) -> Mapping[str, int]:
        """``[hw.phrase_keys]``: well-formed phrase ids, each to one BCM pin."""
        where = ("hw", "phrase_keys")
        keys = {}
        for pid, v in table.items():
            if not PHRASE_ID.fullmatch(pid):
                raise self.error(where, pid, "not a phrase id (lower-case letters, digits and _, "
                                 "starting with a letter, as in sounds/catalog.toml)")
            if isinstance(v, dict):
                raise self.error(where, pid, "must be a BCM pin number, not a table")
            try:
                keys[pid] = _pin(v, optional=False)
            except _Bad as exc:
                raise self.error(where, pid, str(exc)) from None
        return MappingProxyType(keys)

    def keypad(self, data: dict) -> KeypadConfig:
        """``[keypad]``: the device, the modifier keys, and the map (``[keypad.keys]``, the
        plain layer; ``[keypad.shift]``, while a modifier is held), else the built-in map."""
        if "keypad" not in data:
            return KeypadConfig()
        written = self.table(data, ("keypad",))
        values: dict[str, Any] = {}
        for key, v in written.items():
            if key in ("keys", "shift"):
                if not isinstance(v, dict):
                    raise self.error(("keypad",), key, f"must be a table [keypad.{key}] of key "
                                     f"name = what it does, not {_typename(v)}")
                continue
            try:
                if key == "device":
                    values[key] = _keypad_device(v)
                elif key == "modifier":
                    values[key] = tuple([v] if isinstance(v, str) else _want_str_list(v))
                elif key == "retry_s":
                    values[key] = _time(v, positive=True)
                elif key == "backend":
                    values[key] = _choice("auto", "evdev", "fake")(v)
                else:
                    raise _Bad("unknown key (known: device, modifier, retry_s, backend, and the "
                               "tables [keypad.keys], [keypad.shift])")
            except _Bad as exc:
                raise self.error(("keypad",), key, str(exc)) from None
        if not values.get("device"):
            raise self.error(("keypad",), None, "device is needed: the keypad's "
                             "/dev/input/by-id/... path, usb:VVVV:PPPP or name:TEXT (or remove "
                             "[keypad])")
        loader, tables = self, written
        if "keys" not in written and "shift" not in written:
            # the built-in map: checked the same way, its errors naming its own file
            loader = _Loader(BUILTIN_KEYMAP, _read_text(BUILTIN_KEYMAP))
            builtin = tomllib.loads(loader.text)["keypad"]
            tables = builtin
            values.setdefault("modifier", tuple(builtin.get("modifier", ())))
        values["map_path"] = loader.path
        modifier = values.get("modifier", _DEFAULT_MODIFIER)
        mod_codes = {}
        mod_loader = self if "modifier" in written else loader
        for name in modifier:
            code = mod_loader.key_code(("keypad",), "modifier", name)
            if code in mod_codes:
                raise mod_loader.error(("keypad",), "modifier", f"{name} is the same key as "
                                       f"{mod_codes[code]}")
            mod_codes[code] = name
        for table in ("keys", "shift"):
            layer, seen = {}, {}
            for name, action in tables.get(table, {}).items():
                where = ("keypad", table)
                code = loader.key_code(where, name, name)
                if code in mod_codes:
                    raise loader.error(where, name, f"{name} is the modifier key "
                                       f"({mod_codes[code]}): it selects [keypad.shift] and "
                                       "cannot also have a binding")
                if code in seen:
                    raise loader.error(where, name, f"the same key as {seen[code]} above: two "
                                       f"bindings on one key of [keypad.{table}]")
                seen[code] = name
                try:
                    layer[name] = _keypad_action(action)
                except _Bad as exc:
                    raise loader.error(where, name, str(exc)) from None
            values[table] = MappingProxyType(layer)
        if values["shift"] and not mod_codes:
            raise mod_loader.error(("keypad",), "modifier", "[keypad.shift] needs a modifier key "
                               "(the key held for that layer)")
        return KeypadConfig(**values)

    def key_code(self, where: tuple, key: str, name) -> int:
        """The Linux key code of a key name in the map; one line naming it if it is none."""
        from deskline.exc import HardwareError
        from deskline.hw.keypad import key_code

        if not isinstance(name, str):
            raise self.error(where, key, f"must be a key name such as KEY_KP1, not "
                             f"{_typename(name)}")
        try:
            code = key_code(name)
        except HardwareError as exc:
            raise self.error(where, key, str(exc)) from None
        if code is None:
            raise self.error(where, key, f"{name!r} is not a key name Linux knows (KEY_KP1, "
                             "KEY_F1, KEY_A ...; `evtest` shows a keypad's keys)")
        return code

    def profiles(self, data: dict) -> dict[str, Profile]:
        raw = self.table(data, ("profiles",))
        for name, body in raw.items():
            if not isinstance(body, dict):
                raise self.error(("profiles",), name, f"must be a table, not {_typename(body)}")
        done: dict[str, Profile] = dict(BUILTIN_PROFILES)
        resolving: list[str] = []

        def build(name: str) -> Profile:
            if name in resolving:
                chain = " -> ".join(resolving + [name])
                raise self.error(("profiles", resolving[0]), "base", f"circular base ({chain})")
            if name not in raw:
                return done[name]
            if name in done and name not in BUILTIN_PROFILES:
                return done[name]
            body = raw[name]
            base_name = body.get("base", name if name in BUILTIN_PROFILES else "standard")
            if not isinstance(base_name, str):
                raise self.error(("profiles", name), "base",
                                 f"must be a profile name, not {_typename(base_name)}")
            known = set(raw) | set(BUILTIN_PROFILES)
            if base_name not in known:
                raise self.error(("profiles", name), "base",
                                 f"no profile {base_name!r} (known: {', '.join(sorted(known))})")
            resolving.append(name)
            base = BUILTIN_PROFILES[name] if base_name == name else build(base_name)
            resolving.pop()
            values = {}
            for key, v in body.items():
                if key == "base":
                    continue
                if key not in PROFILE_KEYS:
                    raise self.error(("profiles", name), key, "unknown key")
                try:
                    values[key] = _profile_check(key, v)
                except _Bad as exc:
                    raise self.error(("profiles", name), key, str(exc)) from None
            prof = dataclasses.replace(base, name=name, **values)
            if prof.hold_limit_s <= prof.hold_warn_s:
                key = "hold_limit_s" if "hold_limit_s" in values else "hold_warn_s"
                raise self.error(("profiles", name), key,
                                 f"hold_limit_s ({prof.hold_limit_s:g} s) must be longer than "
                                 f"hold_warn_s ({prof.hold_warn_s:g} s)")
            done[name] = prof
            return prof

        for name in raw:
            build(name)
        return done

    def load(self, data: dict) -> Config:
        for key, v in data.items():
            if key not in _SECTIONS and key not in ("profiles", "keypad"):
                raise self.error((), key, "unknown section (known: desk, profiles, hw, audio, "
                                 "phrases, journal, floor, keypad)")
            if not isinstance(v, dict):
                raise self.error((), key, f"must be a table [{key}], not {_typename(v)}")
        desk = self.section(data, "desk", DeskConfig)
        hw = self.section(data, "hw", HwConfig)
        audio = self.section(data, "audio", AudioConfig)
        phrases = self.section(data, "phrases", PhrasesConfig)
        journal = self.section(data, "journal", JournalConfig)
        floor = self.section(data, "floor", FloorConfig)
        if "floor" in data:
            for key in ("host", "site", "desk_id", "credentials_file"):
                if not getattr(floor, key):
                    raise self.error(("floor",), None if key not in data["floor"] else key,
                                     f"{key} is needed to reach the floor (or remove [floor])"
                                     if key not in data["floor"] else "must not be empty")
        keypad = self.keypad(data)
        profiles = self.profiles(data)
        if desk.profile not in profiles:
            raise self.error(("desk",), "profile", f"no profile {desk.profile!r} (known: "
                             f"{', '.join(sorted(profiles))})")
        self._check_hw(hw, self.table(data, ("hw",)))
        if audio.tx_channel is not None and audio.tx_channel == audio.rx_channel:
            written = self.table(data, ("audio",))
            key = "tx_channel" if "tx_channel" in written or "rx_channel" not in written \
                else "rx_channel"
            raise self.error(("audio",), key, f"the receive and transmit taps cannot both be "
                             f"channel {audio.rx_channel} (rx_channel, tx_channel; \"none\" if "
                             "the transmit tap is not wired)")
        return Config(desk_section=desk, profiles=MappingProxyType(profiles), hw=hw,
                      audio=audio, phrases=phrases, journal=journal, floor=floor,
                      keypad=keypad, path=None if self.path == "<defaults>" else self.path)

    def _check_hw(self, hw: HwConfig, written: dict) -> None:
        def is_written(key: str) -> bool:
            # phrase keys exist only when the file sets them
            return key in written or key.startswith("phrase_keys.")

        seen: dict[int, str] = {}
        for key, pin in hw.pins().items():
            if pin in seen:
                first = seen[pin]
                # blame the key the file sets, not a default it collides with
                if is_written(first) and not is_written(key):
                    key, first = first, key
                table = ("hw",) + tuple(key.split(".")[:-1])
                raise self.error(table, key.split(".")[-1], f"pin {pin} is already used by "
                                 f"{first}" + ("" if is_written(first) else " (its default)"))
            seen[pin] = key
        if hw.flash_max_s and hw.flash_min_s >= hw.flash_max_s:
            raise self.error(("hw",), "flash_min_s", f"{hw.flash_min_s:g} s must be shorter "
                             f"than flash_max_s ({hw.flash_max_s:g} s)")
        if hw.flash_max_s and hw.hook_debounce_s >= hw.flash_min_s:
            raise self.error(("hw",), "hook_debounce_s", f"{hw.hook_debounce_s:g} s must be "
                             f"shorter than flash_min_s ({hw.flash_min_s:g} s)")


# --- entry points ----------------------------------------------------------------------------

def loads_config(text: str, path: str = "<config>") -> Config:
    """Check and load configuration from TOML text (``path`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        # the line opening the most arrays and inline tables is where the nesting is
        lines = text.splitlines() or [""]
        line = max(range(len(lines)), key=lambda i: lines[i].count("[") + lines[i].count("{"))
        raise ConfigError(f"{path}:{line + 1}: syntax: arrays or tables nested too deeply") \
            from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        line = m.group(1) if m else "?"
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg).strip()
        m_eof = re.search(r"\(at end of document\)", msg)
        if m_eof:
            line = str(len(text.splitlines()) or 1)
            msg = msg.replace("(at end of document)", "").strip()
        raise ConfigError(f"{path}:{line}: syntax: {msg}") from None
    return _Loader(path, text).load(data)


def load_config(path: str | os.PathLike) -> Config:
    """Check and load the TOML configuration file at ``path``."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except PermissionError:
        raise ConfigError(unreadable_message(path)) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: encoding: not UTF-8 text") from None
    return loads_config(text, path)


def check_phrase_keys(cfg: Config, known) -> None:
    """Raise ConfigError (``FILE:LINE: hw.phrase_keys.<id>: ...``) for a pad key whose phrase id
    is not in ``known`` (the catalog's ids; kept out of loading so the service starts without it)."""
    for pid in cfg.hw.phrase_keys:
        if pid not in known:
            text = _read_text(cfg.path) if cfg.path else ""
            raise _Loader(cfg.path or "<config>", text).error(
                ("hw", "phrase_keys"), pid, f"no phrase {pid!r} in the catalog "
                "(`deskline phrases list` shows the ids)")


def check_keypad(cfg: Config, catalog) -> None:
    """Raise ConfigError (``FILE:LINE: keypad.<layer>.<key>: ...``) for a key map binding whose
    phrase the catalog does not have, or whose values the phrase cannot take (a field it has
    not, a title other than 先生/女士/sir/madam, a count out of range, a field left without one).

    ``catalog``: a :class:`deskline.phrases.catalog.Catalog`; a plain set of ids checks the ids
    only.
    """
    from deskline.call.controller import parse_pad_key
    from deskline.exc import CatalogError
    from deskline.phrases.template import phrase_pieces

    kp = cfg.keypad
    for layer, key, action in kp.bindings():
        if not action.startswith("phrase:"):
            continue
        pid, values = parse_pad_key(action)
        where = ("keypad", ("keys", "shift")[layer])
        problem = None
        if pid not in catalog:
            problem = f"no phrase {pid!r} in the catalog (`deskline phrases list` shows the ids)"
        elif hasattr(catalog, "field_kinds"):
            fields_ = catalog[pid].fields
            extra = [f for f in values if f not in fields_]
            if extra:
                problem = (f"{pid} has no field {extra[0]!r} (its fields: "
                           f"{', '.join(fields_) or 'none'})")
            else:
                try:
                    phrase_pieces(catalog, pid, {**cfg.desk.template_values(), **values},
                                  cfg.desk_section.language)
                except CatalogError as exc:
                    problem = str(exc)
        if problem:
            raise _Loader(kp.map_path or "<config>", _read_text(kp.map_path)
                          if kp.map_path else "").error(where, key, problem)


def check_desk(cfg: Config) -> None:
    """Refuse a desk whose greeting cannot be said: it needs the hotline name and agent number.

    The standard's first sentence names both (seed 000 item 1); a desk installed from the
    commented example has neither until the installer sets them.
    """
    d = cfg.desk_section
    name = d.hotline_name_en if d.language == "en" and d.hotline_name_en else d.hotline_name
    for key, value in (("hotline_name", name), ("agent_no", d.agent_no)):
        if not value:
            if cfg.path:
                raise _Loader(cfg.path, _read_text(cfg.path)).error(
                    ("desk",), key, "not set; the greeting says it (set it under [desk])")
            raise ConfigError(f"built-in defaults (no settings file): desk.{key}: not set; the "
                              "greeting says it (set it under [desk])")


def setting_error(cfg: Config, section: tuple, key: str, message: str) -> ConfigError:
    """A ConfigError naming the file, line and key of a setting the desk cannot use
    (``FILE:LINE: section.key: message``), or the built-in defaults when there is no file."""
    if cfg.path:
        return _Loader(cfg.path, _read_text(cfg.path)).error(section, key, message)
    return ConfigError(f"built-in defaults (no settings file): {'.'.join((*section, key))}: "
                       f"{message}")


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return ""


def check_service(cfg: Config, catalog_ids=None) -> None:
    """Everything a desk needs beyond a loadable file; ``deskline run`` and ``config check``
    both call this, so what one accepts the other accepts.

    The greeting's names (:func:`check_desk`), the phrase pad's ids and the keypad's map
    (:func:`check_keypad`) against the catalog (``catalog_ids``: the catalog, or the ids to
    accept; None loads the installed catalog, ~20 ms).
    """
    check_desk(cfg)
    if cfg.hw.phrase_keys or cfg.keypad.enabled:
        if catalog_ids is None:
            from deskline.phrases.catalog import default_sounds_dir, load_catalog

            catalog_ids = load_catalog(default_sounds_dir() / "catalog.toml")
        check_phrase_keys(cfg, catalog_ids)
        check_keypad(cfg, catalog_ids)


def config_path(path: str | os.PathLike | None = None) -> str | None:
    """The file to read: ``path``, else ``$DESKLINE_CONFIG``, else the system file if present."""
    if path:
        return os.fspath(path)
    env = os.environ.get(ENV_VAR)
    if env:
        return env
    return SYSTEM_PATH if os.path.exists(SYSTEM_PATH) else None


def unreadable_message(path: str) -> str:
    """One line for a settings file this user may not read, saying who may and what to do."""
    try:
        group = grp.getgrgid(os.stat(path).st_gid).gr_name
    except (OSError, KeyError):
        group = "root"
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = "$USER"
    if group == "root":
        return f"{path}: cannot read: permission denied (only root may read it): use sudo"
    return (f"{path}: cannot read: permission denied (only root and the {group} group may read "
            f"the desk's settings): sudo usermod -aG {group} {user}, then log in again; "
            f"or use sudo")


def system_unreadable() -> bool:
    """True when the desk's settings would be :data:`SYSTEM_PATH` and this user cannot read it."""
    return (not os.environ.get(ENV_VAR) and os.path.exists(SYSTEM_PATH)
            and not os.access(SYSTEM_PATH, os.R_OK))


def load_effective(path: str | os.PathLike | None = None, *,
                   system_optional: bool = False) -> Config:
    """The configuration in force: see :func:`config_path`; built-in defaults without a file.

    ``system_optional``: when no file is named and the system file is there but this user may
    not read it, say so in one line and use the built-in defaults (for the commands that work on
    recordings, not on the desk).
    """
    if system_optional and not path and system_unreadable():
        log.warning("%s is not readable by this user; using the built-in settings (or name "
                    "one with --config)", SYSTEM_PATH)
        return Config.default()
    found = config_path(path)
    if found is None:
        log.info("no configuration file; using the built-in defaults")
        return Config.default()
    return load_config(found)
