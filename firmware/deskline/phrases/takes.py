"""Saving a centre's own recording of a phrase: telephone-ready, the previous take kept.

``deskline phrases record`` captures from the sound card and hands the samples here; this
part does no hardware and is what the tests exercise.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from deskline.exc import CatalogError
from deskline.phrases import level
from deskline.phrases.book import AUDIO_SUFFIXES
from deskline.phrases.catalog import LANG_DIRS, norm_lang

log = logging.getLogger(__name__)

#: Suffix added to the previous take of a recording when a new one replaces it.
PREV_SUFFIX = ".prev"
#: Shortest take that can hold a phrase, seconds of speech after trimming.
MIN_TAKE_S = 0.2


def prepare_take(samples: np.ndarray, rate_hz: int) -> np.ndarray:
    """A raw take made telephone-ready: 16 kHz, trimmed, -26 dBov (P.56), peaks ≤ -3 dBov, 16-bit."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        x = x[:, 0]
    if rate_hz != level.RATE_HZ:
        x = soxr.resample(x, rate_hz, level.RATE_HZ, quality="HQ")
    x = level.trim_silence(x, rate_hz=level.RATE_HZ)
    m = level.measure(x, rate_hz=level.RATE_HZ)
    if m.level_dbov <= -99.0 or x.size < MIN_TAKE_S * level.RATE_HZ:
        raise CatalogError("nothing was heard in the take (silent or too short); record it again")
    return level.quantise16(level.normalise(x, rate_hz=level.RATE_HZ))


def save_take(samples: np.ndarray, rate_hz: int, override_dir: str | os.PathLike, key: str,
              lang: str) -> Path:
    """Write ``key``'s new recording to ``<dir>/<lang>/<key>.flac``; an older take becomes ``….prev``.

    Every existing ``<key>.flac`` / ``<key>.wav`` there is renamed with :data:`PREV_SUFFIX`
    (replacing an older ``.prev``), so the last take can be put back by renaming it.
    """
    y = prepare_take(samples, rate_hz)
    d = Path(override_dir) / LANG_DIRS[norm_lang(lang)]
    d.mkdir(parents=True, exist_ok=True)
    for suffix in AUDIO_SUFFIXES:
        old = d / f"{key}{suffix}"
        if old.is_file():
            old.replace(old.with_name(old.name + PREV_SUFFIX))
            log.info("kept the previous take as %s%s", old, PREV_SUFFIX)
    path = d / f"{key}.flac"
    sf.write(path, y, level.RATE_HZ, subtype="PCM_16", format="FLAC", compression_level=1.0)
    return path
