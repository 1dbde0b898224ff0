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
    """WebRTC VAD at 8 kHz over 10 ms frames, in one aggressiveness mode (0-3)."""

    def __init__(self, mode: int):
        import webrtcvad

        self.mode = mode
        self._vad = webrtcvad.Vad(mode)

    @property
    def name(self) -> str:
        return f"webrtc-{self.mode}"

    def process(self, x: np.ndarray) -> np.ndarray:
        """One decision per whole 10 ms frame of ``x`` (a fresh detector each call)."""
        import webrtcvad

        self._vad = webrtcvad.Vad(self.mode)
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

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Speech probability of each 256-sample chunk of ``x`` (zero-padded at the end)."""
        x = np.asarray(x, dtype=np.float32)
        n_chunks = -(-len(x) // SILERO_CHUNK_SAMPLES)
        padded = np.zeros(SILERO_CONTEXT_SAMPLES + n_chunks * SILERO_CHUNK_SAMPLES, np.float32)
        padded[SILERO_CONTEXT_SAMPLES : SILERO_CONTEXT_SAMPLES + len(x)] = x
        state = np.zeros((2, 1, 128), dtype=np.float32)
        probs = np.empty(n_chunks)
        run = self._session.run
        width = SILERO_CONTEXT_SAMPLES + SILERO_CHUNK_SAMPLES
        for i in range(n_chunks):
            start = i * SILERO_CHUNK_SAMPLES
            chunk = padded[start : start + width][None, :]
            out, state = run(None, {"input": chunk, "state": state, "sr": self._sr})
            probs[i] = out[0, 0]
        return probs

    def process(self, x: np.ndarray) -> np.ndarray:
        """One decision per whole 10 ms frame of ``x``, from the chunk holding the frame's centre."""
        probs = self.probabilities(x)
        n = len(x) // HOP_SAMPLES
        centres = np.arange(n) * HOP_SAMPLES + HOP_SAMPLES // 2
        return probs[centres // SILERO_CHUNK_SAMPLES] >= self.threshold


def reference_vads() -> list:
    """Every reference detector in the order the benchmark tables list them."""
    return [WebRtcVad(m) for m in range(4)] + [SileroVad()]
