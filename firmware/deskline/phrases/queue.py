"""The playback queue: which phrase sample goes out next, and when each phrase has ended.

Pure: no hardware, no clock, no threads, no file I/O of its own. Time is counted in samples
pulled, so the live service (pulling one audio block per callback) and the simulator (pulling
as fast as it likes, or only asking :meth:`PhraseQueue.duration_s`) see the same timeline.
Audio comes from a *source*, any callable ``source(phrase_id, values, lang, rate_hz) ->
ndarray`` — normally a :class:`~deskline.phrases.book.PhraseBook`; tests pass a dict-backed
function.

Phrases play one after another, never over each other::

    q = PhraseQueue(48000, source=book)
    q.play("hold_ask")                       # starts at the next pull
    q.play("greeting", values={"agent_no": "12"})   # queued behind it
    samples, done = q.pull(480)              # 10 ms at 48 kHz; add `samples` into the output
    ...                                      # `done` lists ids whose last sample was in the block
    q.stop()                                 # silence now; returns the ids cut off (not "done")

Typical live use: for every output block, ``tx, done = q.pull(len(block))``, send ``tx`` to the
line (mixed with anything else by adding), and turn each id in ``done`` into a
``PhraseDone(phrase=id)`` event for the controller, timed at the end of that block.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import soxr

log = logging.getLogger(__name__)

AudioSource = Callable[[str, Mapping[str, object] | None, str | None, int], np.ndarray]


@dataclass(frozen=True)
class QueuedPhrase:
    """A phrase in the queue: its id, values, language, and how far it has played (samples).

    ``audio`` is as the queue keeps it; ``length_samples`` is the phrase's length at the
    queue's rate (``audio.size`` unless it is kept at a lower rate and made as it is pulled,
    by ``reader``).
    """

    phrase_id: str
    values: Mapping[str, object]
    lang: str | None
    audio: np.ndarray
    position_samples: int = 0
    length_samples: int = -1
    reader: "_Resampled | None" = None

    @property
    def remaining_samples(self) -> int:
        n = self.audio.size if self.length_samples < 0 else self.length_samples
        return n - self.position_samples


class _Resampled:
    """One phrase kept at a lower rate, brought to the queue's rate as it is pulled.

    soxr's streaming resampler gives what a one-shot resample of the whole phrase gives
    (``round(n * rate_hz / kept_rate_hz)`` samples); the output is cut or padded to exactly
    ``length_samples`` so the timeline never depends on the resampler.
    """

    #: input read ahead per call, seconds: fewer, larger calls into soxr
    CHUNK_S = 0.1

    def __init__(self, audio: np.ndarray, kept_rate_hz: int, rate_hz: int, length_samples: int):
        self.audio = audio
        self.length_samples = length_samples
        self.scale = INT16_STEP if audio.dtype == np.int16 else 1.0
        self.ratio = rate_hz / kept_rate_hz
        self.chunk = max(1, int(kept_rate_hz * self.CHUNK_S))
        self._stream = soxr.ResampleStream(kept_rate_hz, rate_hz, 1, dtype="float32",
                                           quality="HQ")
        self._in_pos = 0
        self._buf = np.zeros(0, dtype=np.float32)
        self._ended = False

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` samples at the queue's rate (float32)."""
        while self._buf.size < n and not self._ended:
            want = max(self.chunk, int((n - self._buf.size) / self.ratio) + 1)
            x = self.audio[self._in_pos:self._in_pos + want]
            self._in_pos += x.size
            self._ended = self._in_pos >= self.audio.size
            y = self._stream.resample_chunk(np.multiply(x, self.scale, dtype=np.float32),
                                            last=self._ended)
            self._buf = np.concatenate((self._buf, y)) if self._buf.size else y
        out, self._buf = self._buf[:n], self._buf[n:]
        if out.size < n:  # the resampler gave a sample short at the end
            out = np.concatenate((out, np.zeros(n - out.size, dtype=np.float32)))
        return out


#: The value of one int16 step: full scale (1.0) is 32767, so int16 and back is exact for
#: the values 16-bit recordings hold.
INT16_STEP = 1.0 / 32767


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float samples (-1..1; beyond is clipped) as int16 (full scale 32767); int16 as it is."""
    x = np.asarray(x)
    if x.dtype == np.int16:
        return x
    return np.round(np.clip(x, -1.0, 1.0) * 32767).astype(np.int16)


def _cache_key(phrase_id, values, lang) -> tuple:
    return (phrase_id, tuple(sorted((str(k), str(v)) for k, v in (values or {}).items())), lang)


class PhraseQueue:
    """Plays phrases one after another at ``rate_hz``; :meth:`pull` hands out the samples.

    ``lang`` is the language used when :meth:`play` is given none (``zh`` or ``en``).
    Assembled audio is kept per (id, values, lang), so asking a duration and then playing the
    phrase costs one assembly. ``store`` is how it is kept: ``"float32"`` (samples as the
    source gives them), or ``"int16"`` (16-bit, half the memory: the live desk keeps the
    controller's phrases resident at the card's rate, about 9 MB instead of 17 at 48 kHz; the
    recordings are 16-bit to begin with). :meth:`pull` hands out float32 either way.
    ``kept_rate_hz`` (default ``rate_hz``): the rate the source is asked for and the audio
    kept at; a lower one (the recordings' own 16 kHz for a 48 kHz card: a third of the
    memory) is brought to ``rate_hz`` with soxr as the phrase is pulled.
    """

    def __init__(self, rate_hz: int, source: AudioSource, *, lang: str | None = None,
                 store: str = "float32", kept_rate_hz: int | None = None):
        if int(rate_hz) <= 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz!r}")
        if store not in ("float32", "int16"):
            raise ValueError(f"store must be 'float32' or 'int16', got {store!r}")
        if kept_rate_hz is not None and int(kept_rate_hz) <= 0:
            raise ValueError(f"kept_rate_hz must be positive, got {kept_rate_hz!r}")
        self.rate_hz = int(rate_hz)
        self.kept_rate_hz = int(kept_rate_hz or rate_hz)
        self.lang = lang
        self.store = store
        self._source = source
        self._items: deque[QueuedPhrase] = deque()
        self._audio_cache: dict[tuple, np.ndarray] = {}

    def _audio(self, phrase_id: str, values, lang) -> np.ndarray:
        key = _cache_key(phrase_id, values, lang)
        if key not in self._audio_cache:
            x = np.asarray(self._source(phrase_id, dict(values or {}), lang, self.kept_rate_hz))
            if x.ndim != 1:
                raise ValueError(f"{phrase_id}: the audio source gave shape {x.shape}, want 1-D")
            x = to_int16(x) if self.store == "int16" else np.asarray(x, dtype=np.float32)
            x.setflags(write=False)
            self._audio_cache[key] = x
        return self._audio_cache[key]

    def _length(self, audio: np.ndarray) -> int:
        """Samples at ``rate_hz`` of audio kept at ``kept_rate_hz``."""
        if self.kept_rate_hz == self.rate_hz:
            return audio.size
        return int(round(audio.size * self.rate_hz / self.kept_rate_hz))

    def duration_s(self, phrase_id: str, values: Mapping[str, object] | None = None,
                   lang: str | None = None) -> float:
        """How long ``phrase_id`` with ``values`` plays, seconds (does not queue it)."""
        return self._length(self._audio(phrase_id, values, lang or self.lang)) / self.rate_hz

    def play(self, phrase_id: str, values: Mapping[str, object] | None = None,
             lang: str | None = None) -> float:
        """Queue ``phrase_id``: it starts when everything before it has played. Returns its length, s.

        Raises whatever the source raises for an unknown id or bad values (a CatalogError from
        the phrase book) before anything is queued.
        """
        lang = lang or self.lang
        audio = self._audio(phrase_id, values, lang)
        n = self._length(audio)
        reader = None if self.kept_rate_hz == self.rate_hz else _Resampled(
            audio, self.kept_rate_hz, self.rate_hz, n)
        self._items.append(QueuedPhrase(phrase_id, dict(values or {}), lang, audio,
                                        length_samples=n, reader=reader))
        return n / self.rate_hz

    def stop(self) -> list[str]:
        """Silence from the next sample on; returns the ids dropped (playing first, then queued).

        Stopped phrases are not reported as finished by :meth:`pull`.
        """
        dropped = [item.phrase_id for item in self._items]
        self._items.clear()
        return dropped

    def pull(self, n_samples: int) -> tuple[np.ndarray, list[str]]:
        """The next ``n_samples`` of phrase audio (zeros where nothing plays) and the ids that ended.

        An id is in the list when its last sample is inside this block; a phrase whose audio
        is empty ends in the first pull after it was queued.
        """
        n = int(n_samples)
        if n < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples!r}")
        out = np.zeros(n, dtype=np.float32)
        done: list[str] = []
        filled = 0
        while self._items and (filled < n or self._items[0].remaining_samples == 0):
            item = self._items[0]
            take = min(n - filled, item.remaining_samples)
            if item.reader is not None:
                out[filled:filled + take] = item.reader.read(take)
            else:
                part = item.audio[item.position_samples:item.position_samples + take]
                if part.dtype == np.int16:
                    np.multiply(part, INT16_STEP, out=out[filled:filled + take],
                                casting="unsafe")
                else:
                    out[filled:filled + take] = part
            filled += take
            if take == item.remaining_samples:
                self._items.popleft()
                done.append(item.phrase_id)
            else:
                self._items[0] = QueuedPhrase(item.phrase_id, item.values, item.lang, item.audio,
                                              item.position_samples + take,
                                              item.length_samples, item.reader)
        return out, done

    @property
    def busy(self) -> bool:
        """True while a phrase is playing or queued."""
        return bool(self._items)

    @property
    def current(self) -> str | None:
        """The id playing now (or next to play), None when idle."""
        return self._items[0].phrase_id if self._items else None

    @property
    def queued(self) -> list[str]:
        """Every id still to be heard, the playing one first."""
        return [item.phrase_id for item in self._items]

    @property
    def remaining_s(self) -> float:
        """Seconds of phrase audio still to come (playing and queued)."""
        return sum(item.remaining_samples for item in self._items) / self.rate_hz

