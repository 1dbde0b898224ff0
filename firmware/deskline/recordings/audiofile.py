"""Reading recordings for the tools (measure, simulate, phrases): any rate, WAV or FLAC.

Every failure is an :class:`~deskline.exc.AudioFileError` whose one-line message names the file
and the reason: missing, empty, truncated, not audio.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from deskline.exc import AudioFileError


@dataclass(frozen=True)
class Recording:
    """A decoded recording: ``samples`` is float64, shape (frames, channels), values -1..1."""

    path: str
    samples: np.ndarray
    rate_hz: int

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.rate_hz

    def channel(self, index: int) -> np.ndarray:
        """One channel as a contiguous 1-D array (channel 0 is the receive path)."""
        return np.ascontiguousarray(self.samples[:, index])


def _wav_declared_frames(path: str) -> tuple[int, int] | None:
    """(declared data bytes, bytes present) of a RIFF/WAVE file's data chunk, or None."""
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = os.fstat(fh.fileno()).st_size
        while True:
            hdr = fh.read(8)
            if len(hdr) < 8:
                return None
            cid, clen = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            if cid == b"data":
                return clen, size - fh.tell()
            fh.seek(clen + (clen & 1), os.SEEK_CUR)


def _checked(path: str | os.PathLike) -> str:
    """``path`` as a string once it names a file that can hold audio (else AudioFileError)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise AudioFileError(f"{path}: is a directory, not an audio file")
    if os.path.getsize(path) == 0:
        raise AudioFileError(f"{path}: empty file")
    try:
        declared = _wav_declared_frames(path)
    except OSError as exc:
        raise AudioFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if declared is not None:
        want, have = declared
        # 0xFFFFFFFF / 0 are "unknown length" markers written by streaming recorders.
        if want not in (0, 0xFFFFFFFF) and have < want:
            raise AudioFileError(
                f"{path}: truncated (header declares {want} bytes of audio, file holds {have})")
    return path


def _decode_error(path: str, exc: Exception) -> AudioFileError:
    if isinstance(exc, sf.LibsndfileError):
        reason = str(exc).split(":", 1)[-1].strip() or "unreadable"
        if "Format not recognised" in reason or "chunk" in reason:
            reason = f"not a WAV/FLAC audio file ({reason})"
        return AudioFileError(f"{path}: {reason}")
    return AudioFileError(f"{path}: unreadable audio ({exc})")


#: Sample rates a recording of a telephone line can have: the line's own 8 kHz up to the
#: fastest studio rate. Outside them the file is not a call (or its header is damaged).
LINE_RATES_HZ = (8000, 384000)


def check_line_rate(path: str, rate_hz: int) -> None:
    """AudioFileError naming ``path`` unless ``rate_hz`` is in :data:`LINE_RATES_HZ`."""
    low, high = LINE_RATES_HZ
    if rate_hz < low:
        raise AudioFileError(f"{path}: {rate_hz} Hz is below the {low} Hz a telephone line "
                             "carries; nothing to measure")
    if rate_hz > high:
        raise AudioFileError(f"{path}: {rate_hz} Hz is above the {high} Hz of any recording "
                             "of a call (a damaged header?)")


def _finite(path: str, block: np.ndarray, first_frame: int, rate_hz: int) -> np.ndarray:
    """``block`` when every sample is a number; else AudioFileError naming the first bad one.

    A float WAV can hold NaN or infinite samples; measured, they would read as silence.
    """
    ok = np.isfinite(block)
    if not ok.all():
        row = int(np.argmin(ok.all(axis=1)))
        t_s = (first_frame + row) / rate_hz
        raise AudioFileError(f"{path}: sample at {t_s:.3f} s (frame {first_frame + row}) is not "
                             "a number (NaN or infinite); the recording is damaged")
    return block


def read_audio(path: str | os.PathLike) -> Recording:
    """Decode ``path`` into a :class:`Recording`; raise AudioFileError naming the problem."""
    path = _checked(path)
    try:
        data, rate = sf.read(path, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise _decode_error(path, exc) from exc
    if data.shape[0] == 0:
        raise AudioFileError(f"{path}: no audio frames")
    _finite(path, data, 0, int(rate))
    return Recording(path=path, samples=data, rate_hz=int(rate))


class AudioStream:
    """A recording read a block at a time (a long one never held whole): ``read(n)``.

    Use as a context manager, or call :meth:`close`. Opening checks what :func:`read_audio`
    checks; a decoding error later is an AudioFileError naming the file too.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = _checked(path)
        try:
            self._file = sf.SoundFile(self.path)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise _decode_error(self.path, exc) from exc
        self.rate_hz = int(self._file.samplerate)
        self.channels = int(self._file.channels)
        self.frames = int(self._file.frames)
        if self.frames == 0:
            self._file.close()
            raise AudioFileError(f"{self.path}: no audio frames")
        self._next_frame = 0

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate_hz

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` frames (fewer at the end) as float64, shape (frames, channels)."""
        try:
            block = self._file.read(n, dtype="float64", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise _decode_error(self.path, exc) from exc
        first, self._next_frame = self._next_frame, self._next_frame + block.shape[0]
        return _finite(self.path, block, first, self.rate_hz)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "AudioStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
