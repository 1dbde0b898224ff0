"""The floor service's settings: one TOML file (``/etc/deskline/floor.toml``), checked key by key.

::

    [broker]
    host = "127.0.0.1"
    port = 1883
    credentials_file = "/etc/deskline/floor.cred"   # <user>:<password>, from setup-broker
    ca_file = ""                                     # TLS with this CA when set
    client_id = "deskline-floor"                     # fixed: the broker keeps its session
    topics = ["deskline/#"]                          # any subtree: one site, one floor ...

    [store]
    path = "/var/lib/deskline-floor/floor.db"

    [web]
    host = "127.0.0.1"          # the page listens on localhost unless told otherwise
    port = 8080
    password_hash = ""          # `deskline floor passwd` prints one
    secret_file = "/var/lib/deskline-floor/session.key"

    [report]
    timezone = "Asia/Shanghai"  # days and shifts are the floor's local time
    [report.shifts]
    early = "06:00-14:00"
    late = "14:00-22:00"
    night = "22:00-06:00"

A wrong key or value gives one line ``FILE:LINE: section.key: problem``.
"""
from __future__ import annotations

import os
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from deskline.config import _Bad, _line_of, _nonempty, _want_int, _want_str, _typename
from deskline.exc import ConfigError

SYSTEM_PATH = "/etc/deskline/floor.toml"
ENV_VAR = "DESKLINE_FLOOR_CONFIG"


@dataclass(frozen=True)
class FloorSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    credentials_file: str = "/etc/deskline/floor.cred"
    ca_file: str = ""
    client_id: str = "deskline-floor"
    topics: tuple[str, ...] = ("deskline/#",)
    store_path: str = "/var/lib/deskline-floor/floor.db"
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    password_hash: str = ""
    secret_file: str = "/var/lib/deskline-floor/session.key"
    timezone: str = "UTC"
    shifts: Mapping[str, tuple[int, int]] = field(
        default_factory=lambda: MappingProxyType({}))   # name -> (start, end) minutes of day
    path: str | None = None

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def _topics(v):
    if not isinstance(v, list) or not v or not all(isinstance(t, str) and t for t in v):
        raise _Bad("must be a list of topic filters, e.g. [\"deskline/#\"]")
    for t in v:
        if not (t == "deskline/#" or t.startswith("deskline/")):
            raise _Bad(f"{t!r}: the floor listens under deskline/")
    return tuple(v)


def _tz(v):
    try:
        zoneinfo.ZoneInfo(_want_str(v))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _Bad(f"{v!r} is not a time zone (e.g. \"Asia/Shanghai\", \"UTC\")") from None
    return v


def _hhmm(text: str) -> int:
    h, _, mnt = text.partition(":")
    if not (h.isdigit() and mnt.isdigit() and 0 <= int(h) <= 24 and 0 <= int(mnt) < 60):
        raise _Bad(f"{text!r} is not a time of day HH:MM")
    return int(h) * 60 + int(mnt)


def _shift(v):
    if not isinstance(v, str) or v.count("-") != 1:
        raise _Bad(f"must be \"HH:MM-HH:MM\", not {v!r}")
    a, b = (_hhmm(x.strip()) for x in v.split("-"))
    if a == b:
        raise _Bad("a shift cannot start and end at the same time")
    return (a, b)


_KEYS = {
    "broker": {"host": ("host", _nonempty), "port": ("port", lambda v: _want_int(v, 1, 65535)),
               "credentials_file": ("credentials_file", _nonempty),
               "ca_file": ("ca_file", _want_str), "client_id": ("client_id", _nonempty),
               "topics": ("topics", _topics)},
    "store": {"path": ("store_path", _nonempty)},
    "web": {"host": ("web_host", _nonempty), "port": ("web_port", lambda v: _want_int(v, 1, 65535)),
            "password_hash": ("password_hash", _want_str),
            "secret_file": ("secret_file", _nonempty)},
    "report": {"timezone": ("timezone", _tz)},
}


def loads(text: str, path: str = "<floor config>") -> FloorSettings:
    def err(table, key, problem):
        line = _line_of(text, table, key)
        where = f"{path}:{line}" if line else path
        return ConfigError(f"{where}: {'.'.join(table + ((key,) if key else ()))}: {problem}")

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: syntax: {exc}") from None
    values: dict = {}
    for sec, body in data.items():
        if sec not in _KEYS:
            raise err((), sec, f"unknown section (known: {', '.join(_KEYS)})")
        if not isinstance(body, dict):
            raise err((), sec, f"must be a table, not {_typename(body)}")
        for key, v in body.items():
            if sec == "report" and key == "shifts":
                if not isinstance(v, dict):
                    raise err(("report",), "shifts", "must be a table name = \"HH:MM-HH:MM\"")
                shifts = {}
                for name, span in v.items():
                    try:
                        shifts[name] = _shift(span)
                    except _Bad as exc:
                        raise err(("report", "shifts"), name, str(exc)) from None
                values["shifts"] = MappingProxyType(shifts)
                continue
            if key not in _KEYS[sec]:
                raise err((sec,), key, f"unknown key (known: {', '.join(_KEYS[sec])})")
            name, check = _KEYS[sec][key]
            try:
                values[name] = check(v)
            except _Bad as exc:
                raise err((sec,), key, str(exc)) from None
    return FloorSettings(**values, path=None if path.startswith("<") else path)


def load(path: str | os.PathLike | None = None) -> FloorSettings:
    """The floor service's settings: ``path``, else ``$DESKLINE_FLOOR_CONFIG``, else the system
    file if present, else the defaults."""
    path = path or os.environ.get(ENV_VAR) or (SYSTEM_PATH if os.path.exists(SYSTEM_PATH) else None)
    if path is None:
        return FloorSettings()
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}:1: encoding: not UTF-8 text") from None
    return loads(text, path)
