"""Reference voice activity detectors (WebRTC VAD, Silero VAD) run on 8 kHz audio, 10 ms frames.

Both give one boolean per 10 ms frame (80 samples at 8 kHz) so they line up with
``deskline.dsp.vad.SpeechDetector``.

- WebRTC VAD: package ``webrtcvad-wheels``; 16-bit PCM, 10 ms frames at 8 kHz, modes 0-3.
- Silero VAD: the ``silero_vad.onnx`` model shipped inside the ``silero-vad`` wheel, run with
  onnxruntime directly (the wheel's Python code needs torch, so it is not imported). At 8 kHz the
  model takes 256-sample chunks (32 ms) preceded by the last 32 samples of the previous chunk
  (context) and a recurrent state of shape (2, 1, 128). A 10 ms frame takes the decision of the
  chunk that holds its centre; speech when the probability is at least 0.5 (the model's own
  default threshold).

Both are pinned to one thread (set ``OMP_NUM_THREADS=1`` before starting Python as well).
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

RATE_HZ = 8000
HOP_SAMPLES = 80
SILERO_CHUNK_SAMPLES = 256
SILERO_CONTEXT_SAMPLES = 32
SILERO_THRESHOLD = 0.5


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float samples (-1..1) to int16 PCM, clipped to the int16 range."""
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


class WebRtcVad:
    """WebRTC VAD at 8 kHz over 10 ms frames, in one aggressiveness mode (0-3), streaming."""

    def __init__(self, mode: int):
        self.mode = mode
        self.reset()

    @property
    def name(self) -> str:
        return f"webrtc-{self.mode}"

    def reset(self) -> None:
        """A fresh detector (its adaptive noise model starts again)."""
        import webrtcvad

        self._vad = webrtcvad.Vad(self.mode)

    def process(self, x: np.ndarray) -> np.ndarray:
        """One decision per whole 10 ms frame of ``x``; state carries over between calls."""
        pcm = to_pcm16(x)
        n = len(pcm) // HOP_SAMPLES
        frames = pcm[: n * HOP_SAMPLES].reshape(n, HOP_SAMPLES)
        is_speech = self._vad.is_speech
        return np.fromiter((is_speech(f.tobytes(), RATE_HZ) for f in frames), dtype=bool, count=n)


def silero_model_path() -> str:
    """Path of the ONNX model inside the installed silero-vad wheel (the package is not imported)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise RuntimeError("silero-vad is not installed (pip install --no-deps silero-vad)")
    return os.path.join(os.path.dirname(spec.origin), "data", "silero_vad.onnx")


class SileroVad:
    """Silero VAD (ONNX, onnxruntime, one thread) mapped onto 10 ms frames at 8 kHz."""

    name = "silero"

    def __init__(self, threshold: float = SILERO_THRESHOLD):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.threshold = threshold
        self._session = ort.InferenceSession(
            silero_model_path(), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._sr = np.array(RATE_HZ, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Start afresh: zero recurrent state and context, no pending samples."""
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(SILERO_CONTEXT_SAMPLES, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._chunks = 0          # chunks run since reset
        self._hops = 0            # 10 ms hops answered since reset
        self._last_prob = 0.0

    def _run_chunks(self, x: np.ndarray) -> np.ndarray:
        """Probabilities of the whole 256-sample chunks completed by ``x``."""
        buf = np.concatenate([self._pending, np.asarray(x, dtype=np.float32)])
        n = len(buf) // SILERO_CHUNK_SAMPLES
        self._pending = buf[n * SILERO_CHUNK_SAMPLES :]
        probs = np.empty(n)
        run = self._session.run
        for i in range(n):
            chunk = buf[i * SILERO_CHUNK_SAMPLES : (i + 1) * SILERO_CHUNK_SAMPLES]
            inp = np.concatenate([self._context, chunk])[None, :]
            out, self._state = run(None, {"input": inp, "state": self._state, "sr": self._sr})
            self._context = chunk[-SILERO_CONTEXT_SAMPLES:]
            probs[i] = out[0, 0]
        return probs

    def process(self, x: np.ndarray) -> np.ndarray:
        """One decision per whole 10 ms frame of ``x``, streaming.

        A frame takes the probability of the chunk holding its centre; when that chunk is not
        complete yet (the end of a block), the latest complete chunk's probability.
        """
        first_chunk = self._chunks
        probs = self._run_chunks(x)
        self._chunks += len(probs)
        n = len(x) // HOP_SAMPLES
        centres = (self._hops + np.arange(n)) * HOP_SAMPLES + HOP_SAMPLES // 2
        self._hops += n
        idx = np.minimum(centres // SILERO_CHUNK_SAMPLES, self._chunks - 1) - first_chunk
        table = np.concatenate([[self._last_prob], probs])
        out = table[np.maximum(idx + 1, 0)]
        if len(probs):
            self._last_prob = float(probs[-1])
        return out >= self.threshold


def reference_vads() -> list:
    """Every reference detector in the order the benchmark tables list them."""
    return [WebRtcVad(m) for m in range(4)] + [SileroVad()]
