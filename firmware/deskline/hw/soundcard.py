"""Finding a sound card by its ALSA name, and blocking play/record for the command-line tools.

Cards are chosen by name, never by index: card numbers change between boots and Pi models.
The live service's duplex stream is elsewhere; this module serves ``deskline phrases play``,
``phrases record`` and ``doctor``.
"""
from __future__ import annotations

import logging

import numpy as np

from deskline.exc import HardwareError

log = logging.getLogger(__name__)


def _sd():
    try:
        import sounddevice
    except OSError as exc:  # libportaudio2 missing
        raise HardwareError(f"PortAudio is not available ({exc}); install libportaudio2") from exc
    return sounddevice


def list_devices(kind: str) -> list[tuple[int, str]]:
    """``(index, name)`` of every device that can ``kind`` (``"input"`` or ``"output"``)."""
    sd = _sd()
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    return [(i, d["name"]) for i, d in enumerate(sd.query_devices()) if d[key] > 0]


def find_device(card: str | None, kind: str) -> int | None:
    """Index of the first ``kind`` device whose name contains ``card`` (case-insensitive).

    ``None`` or ``""`` means the system default (returns None, which sounddevice reads as
    default). An exact name match wins over a substring match. Raises :class:`HardwareError`
    naming the card and the devices there are when nothing matches.
    """
    if not card:
        return None
    devices = list_devices(kind)
    want = card.casefold()
    for idx, name in devices:
        if name.casefold() == want:
            return idx
    for idx, name in devices:
        if want in name.casefold():
            return idx
    have = ", ".join(repr(n) for _, n in devices) or "none"
    raise HardwareError(f"no {kind} sound card named {card!r} (there are: {have})")


def play(samples: np.ndarray, rate_hz: int, card: str | None = None) -> None:
    """Play mono float samples (-1..1) on ``card`` and wait until they are out."""
    sd = _sd()
    dev = find_device(card, "output")
    try:
        sd.play(np.asarray(samples, dtype=np.float32), samplerate=rate_hz, device=dev, blocking=True)
    except sd.PortAudioError as exc:
        raise HardwareError(f"cannot play on {card or 'default'}: {exc}") from exc


def record(seconds: float, rate_hz: int, card: str | None = None) -> np.ndarray:
    """Record ``seconds`` of mono audio from ``card``; returns float32 samples (-1..1)."""
    sd = _sd()
    dev = find_device(card, "input")
    try:
        data = sd.rec(int(round(seconds * rate_hz)), samplerate=rate_hz, channels=1,
                      dtype="float32", device=dev, blocking=True)
    except sd.PortAudioError as exc:
        raise HardwareError(f"cannot record from {card or 'default'}: {exc}") from exc
    return data[:, 0].copy()
