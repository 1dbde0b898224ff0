"""The phrase book at run time: which recording says each piece, and a phrase's assembled audio.

Where a piece's audio comes from, first match wins:

1. the centre's own recording in the override directory (config ``[phrases] dir``)::

       <dir>/zh-CN/<key>.wav | <key>.flac      e.g. <dir>/zh-CN/greeting.flac
       <dir>/en/<key>.wav | <key>.flac              <dir>/zh-CN/_hotline_name.wav

   ``<key>`` is a phrase id for a whole phrase, or a piece key (``greeting.1``,
   ``_digit.1``, ``_hotline_name`` …, see :mod:`deskline.phrases.template`). A whole-phrase
   recording of a templated phrase (``<dir>/zh-CN/greeting.flac``) is played as it is, in place
   of the assembled pieces: a centre that records its own greeting says its own name and number;
2. the shipped default voice, ``sounds/<zh-CN|en>/<key>.flac``;
3. for the hotline name only: espeak-ng speaking ``[desk] hotline_name`` (``hotline_name_en``
   in English), telephone-ready, made once and kept in memory.

Recordings may be at any rate and mono or stereo (channel 0 is used); they are brought to the
requested output rate with soxr. A file that cannot be decoded is refused with a
:class:`CatalogError` naming the file, the id and the problem.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import soxr

from deskline.recordings.audiofile import read_audio
from deskline.exc import AudioFileError, CatalogError
from deskline.phrases.catalog import (LANG_DIRS, RATE_HZ, Catalog, default_sounds_dir, load_catalog,
                                      norm_lang)
from deskline.phrases.template import HOTLINE_NAME_KEY, Piece, phrase_pieces

log = logging.getLogger(__name__)

#: File endings a recording may have, in order of preference.
AUDIO_SUFFIXES = (".flac", ".wav")


def _default_speaker(text: str, lang: str) -> np.ndarray:
    from deskline.phrases.render import speak  # espeak-ng only when a name must be synthesised
    return speak(text, lang)


class PhraseBook:
    """Finds and assembles phrase audio: overrides, shipped voice, synthesised hotline name.

    ``desk_values`` are the values every phrase gets unless the caller gives its own: the
    config's ``hotline_name`` / ``hotline_name_en`` and ``agent_no``. ``speaker(text, lang)``
    makes telephone-ready 16 kHz audio for the hotline name when no recording of it exists
    (default: espeak-ng); tests pass their own.
    """

    def __init__(self, catalog: Catalog | None = None, *, sounds_dir: str | Path | None = None,
                 override_dir: str | Path | None = None, lang: str = "zh",
                 hotline_name: str = "", hotline_name_en: str = "", agent_no: str | None = None,
                 speaker: Callable[[str, str], np.ndarray] | None = None):
        self.sounds_dir = Path(sounds_dir) if sounds_dir is not None else default_sounds_dir()
        self.catalog = catalog if catalog is not None else load_catalog(self.sounds_dir / "catalog.toml")
        self.override_dir = Path(override_dir) if override_dir else None
        self.lang = norm_lang(lang)
        self.hotline_name = {"zh": hotline_name, "en": hotline_name_en or hotline_name}
        self.agent_no = agent_no
        self._speaker = speaker or _default_speaker
        self._cache: dict[tuple[str, str, str], np.ndarray] = {}

    # -- where recordings are -------------------------------------------------------------
    def override_path(self, key: str, lang: str) -> Path | None:
        """The centre's recording of ``key`` in ``lang``, if there is one."""
        if self.override_dir is None:
            return None
        for suffix in AUDIO_SUFFIXES:
            p = self.override_dir / LANG_DIRS[norm_lang(lang)] / f"{key}{suffix}"
            if p.is_file():
                return p
        return None

    def default_path(self, key: str, lang: str) -> Path | None:
        """The shipped recording of ``key`` in ``lang``, if there is one."""
        for suffix in AUDIO_SUFFIXES:
            p = self.sounds_dir / LANG_DIRS[norm_lang(lang)] / f"{key}{suffix}"
            if p.is_file():
                return p
        return None

    def path_for(self, key: str, lang: str) -> Path | None:
        """The recording that says ``key`` in ``lang``: the override, else the default."""
        return self.override_path(key, lang) or self.default_path(key, lang)

    # -- values and pieces ----------------------------------------------------------------
    def values_for(self, phrase_id: str, values: Mapping[str, object] | None, lang: str) -> dict:
        """``values`` completed with the desk's hotline name and agent number where the phrase uses them."""
        phrase = self.catalog[phrase_id]
        out = dict(values or {})
        if "hotline_name" in phrase.fields and out.get("hotline_name") in (None, ""):
            out["hotline_name"] = self.hotline_name[norm_lang(lang)]
        if "agent_no" in phrase.fields and out.get("agent_no") in (None, "") and self.agent_no:
            out["agent_no"] = self.agent_no
        return out

    def pieces(self, phrase_id: str, values: Mapping[str, object] | None = None,
               lang: str | None = None) -> list[Piece]:
        """The ordered pieces of ``phrase_id`` (see :func:`template.phrase_pieces`), desk values filled in."""
        lang = norm_lang(lang or self.lang)
        return phrase_pieces(self.catalog, phrase_id, self.values_for(phrase_id, values, lang), lang)

    # -- audio ----------------------------------------------------------------------------
    def _load(self, path: Path, phrase_id: str) -> np.ndarray:
        try:
            rec = read_audio(path)
        except AudioFileError as exc:
            problem = str(exc)
            prefix = f"{path}: "
            problem = problem[len(prefix):] if problem.startswith(prefix) else problem
            raise CatalogError(f"{path}: {phrase_id}: {problem}") from None
        x = rec.channel(0)
        if rec.rate_hz != RATE_HZ:
            x = soxr.resample(x, rec.rate_hz, RATE_HZ, quality="HQ")
        return np.asarray(x, dtype=np.float64)

    def piece_audio(self, piece: Piece, lang: str, phrase_id: str = "") -> np.ndarray:
        """16 kHz audio of one piece (cached)."""
        lang = norm_lang(lang)
        text_key = piece.text if piece.key == HOTLINE_NAME_KEY else ""
        ck = (lang, piece.key, text_key)
        if ck not in self._cache:
            path = self.path_for(piece.key, lang)
            if path is not None:
                self._cache[ck] = self._load(path, phrase_id or piece.key)
            elif piece.key == HOTLINE_NAME_KEY:
                log.info("no recording of the hotline name in %s; synthesising %r", lang, piece.text)
                self._cache[ck] = np.asarray(self._speaker(piece.text, lang), dtype=np.float64)
            else:
                where = self.sounds_dir / LANG_DIRS[lang]
                raise CatalogError(f"{where}/{piece.key}.flac: {phrase_id or piece.key}: no recording")
        return self._cache[ck]

    def audio(self, phrase_id: str, values: Mapping[str, object] | None = None,
              lang: str | None = None, rate_hz: int = RATE_HZ) -> np.ndarray:
        """The assembled audio of ``phrase_id`` at ``rate_hz`` (float64, mono, -1..1).

        A whole-phrase override wins; otherwise the pieces are joined with the silences the
        template gives (clause breaks, digit spacing).
        """
        lang = norm_lang(lang or self.lang)
        phrase = self.catalog[phrase_id]
        whole = self.override_path(phrase_id, lang) if phrase.templated else None
        if whole is not None:
            x = self._load(whole, phrase_id)
        else:
            parts = []
            for piece in self.pieces(phrase_id, values, lang):
                gap = int(round(piece.gap_before_s * RATE_HZ))
                if gap:
                    parts.append(np.zeros(gap))
                parts.append(self.piece_audio(piece, lang, phrase_id))
            x = np.concatenate(parts) if parts else np.zeros(0)
        if rate_hz != RATE_HZ:
            x = soxr.resample(x, RATE_HZ, rate_hz, quality="HQ")
        return x

    def __call__(self, phrase_id: str, values: Mapping[str, object] | None, lang: str | None,
                 rate_hz: int) -> np.ndarray:
        """The audio source interface :class:`~deskline.phrases.queue.PhraseQueue` expects."""
        return self.audio(phrase_id, values, lang, rate_hz)

    def duration_s(self, phrase_id: str, values: Mapping[str, object] | None = None,
                   lang: str | None = None) -> float:
        """How long ``phrase_id`` plays, seconds."""
        return self.audio(phrase_id, values, lang).size / RATE_HZ

    # -- wiring ---------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config, **kwargs) -> "PhraseBook":
        """The phrase book a :class:`deskline.config.Config` describes (desk names, override dir)."""
        d = config.desk_section
        return cls(override_dir=config.phrases.dir or None, lang=d.language,
                   hotline_name=d.hotline_name, hotline_name_en=d.hotline_name_en,
                   agent_no=d.agent_no or None, **kwargs)

    def play_audio(self, action, rate_hz: int) -> np.ndarray:
        """Samples for a :class:`~deskline.call.events.Play` action at ``rate_hz`` (the live mixer's input)."""
        return self.audio(action.phrase, dict(action.values or {}), None, rate_hz)
