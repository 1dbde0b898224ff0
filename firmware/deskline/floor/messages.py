"""The floor's topics and payloads (DESIGN §7), shared by the desk's link and the floor service.

Topics are ``deskline/<site>/<desk>/<kind>``; every payload is a JSON object in UTF-8 carrying
``desk``, ``site`` and ``t`` (ISO 8601, UTC). ``alert`` and ``call`` carry an ``id`` by which
receivers drop repeats.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import uuid

ROOT = "deskline"
#: kinds a desk publishes; ``cmd`` goes the other way (floor -> desk)
DESK_KINDS = ("status", "state", "alert", "call")
KINDS = DESK_KINDS + ("cmd",)
#: what the floor shows as a desk's state
STATES = ("idle", "ringing", "in_call", "on_hold")
#: alert kinds a desk raises
ALERT_KINDS = ("supervisor", "hold_20s", "hold_2min", "far_end_hangup", "card_lost",
               "line_released")
#: a payload larger than this is refused by the floor (a call record is a few kB)
MAX_PAYLOAD_BYTES = 256 * 1024
#: a site or desk name: one topic level, no wildcards, safe in a file name
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: call ids are derived from this namespace, the desk and the record's own numbering
_CALL_NS = uuid.UUID("5d0c1f0e-5a55-4d0e-9a1e-6c0f1d2e3a10")


class BadMessage(ValueError):
    """A message the floor cannot take: the text says what is wrong, ``reason`` its kind
    (``topic``, ``oversized``, ``not_json``, ``payload``)."""

    def __init__(self, text: str, reason: str = "payload"):
        super().__init__(text)
        self.reason = reason


def utc_iso(ts: float | None = None) -> str:
    """``ts`` (seconds since the epoch; now if None) as ISO 8601 UTC with milliseconds."""
    when = (_dt.datetime.now(_dt.timezone.utc) if ts is None
            else _dt.datetime.fromtimestamp(ts, _dt.timezone.utc))
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> _dt.datetime:
    """An ISO 8601 time as an aware UTC datetime (``Z`` or an offset; naive is taken as UTC)."""
    when = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return when.astimezone(_dt.timezone.utc)


def topic(site: str, desk: str, kind: str) -> str:
    return f"{ROOT}/{site}/{desk}/{kind}"


def call_uuid(site: str, desk: str, started_at: str, call_no: int) -> str:
    """The id of a desk's call on the floor: the same every time the same record is read."""
    return str(uuid.uuid5(_CALL_NS, f"{site}/{desk}/{started_at}/{call_no}"))


def encode(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode(topic_name: str, raw: bytes) -> tuple[str, str, str, dict]:
    """Check one message from a desk; returns ``(site, desk, kind, payload)``.

    Raises :class:`BadMessage` for a topic outside the contract, an oversized or non-JSON
    payload, a payload naming another desk than its topic, or one missing what its kind needs.
    """
    parts = topic_name.split("/")
    if len(parts) != 4 or parts[0] != ROOT or parts[3] not in DESK_KINDS:
        raise BadMessage(f"topic {topic_name!r} is not deskline/<site>/<desk>/<kind>", "topic")
    _, site, desk, kind = parts
    if not (NAME.fullmatch(site) and NAME.fullmatch(desk)):
        raise BadMessage(f"topic {topic_name!r}: bad site or desk name", "topic")
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise BadMessage(f"{topic_name}: payload of {len(raw)} bytes is over "
                         f"{MAX_PAYLOAD_BYTES}", "oversized")
    if not raw:
        raise BadMessage(f"{topic_name}: empty payload", "not_json")
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadMessage(f"{topic_name}: not JSON in UTF-8 ({exc})", "not_json") from None
    if not isinstance(payload, dict):
        raise BadMessage(f"{topic_name}: payload is not a JSON object")
    if payload.get("site") != site or payload.get("desk") != desk:
        raise BadMessage(f"{topic_name}: payload names desk {payload.get('site')!r}/"
                         f"{payload.get('desk')!r}")
    t = payload.get("t")
    try:
        parse_iso(t)
    except (TypeError, ValueError, AttributeError):
        raise BadMessage(f"{topic_name}: t {t!r} is not an ISO 8601 time") from None
    need = {"status": ("online",), "state": ("state",), "alert": ("id", "kind"),
            "call": ("id",)}[kind]
    for key in need:
        if key not in payload:
            raise BadMessage(f"{topic_name}: no {key!r}")
    if kind in ("alert", "call") and not (isinstance(payload["id"], str) and payload["id"]):
        raise BadMessage(f"{topic_name}: id must be a non-empty string")
    if kind == "state" and payload["state"] not in STATES:
        raise BadMessage(f"{topic_name}: state {payload['state']!r} is not one of "
                         f"{', '.join(STATES)}")
    return site, desk, kind, payload
