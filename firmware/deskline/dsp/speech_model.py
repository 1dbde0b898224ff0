"""The learned speech evidence: Silero VAD's network (ONNX) run at 8 kHz on 32 ms chunks.

The network is Silero VAD 6.2.3's (MIT licence, Silero Team; see
``deskline/data/models/SILERO_VAD_LICENSE`` and NOTICE). It ships inside the package, so
nothing is fetched at run time, as ``deskline/data/models/silero_vad_8k.onnx``: Silero's 8 kHz
network rearranged to take a whole run of chunks of one stream at once
(``scripts/derive_speech_model.py`` derives it; the weights and operators are Silero's and the
probabilities are bit-identical to running the original chunk by chunk). Only the network's
LSTM cell carries anything from one chunk to the next, so the encoder runs on all the chunks of
a run as one batch and the cell steps through them inside onnxruntime: the desk calls the
network once per analysis block, not thirty times a second (a run of a second's chunks costs
about a third less than the chunks run one by one, on the development machine). It is run
with onnxruntime alone (no torch), on one thread: a desk must not spin up a thread pool for a
1 MB network.

At 8 kHz the network takes a chunk of 256 new samples (32 ms) preceded by the last 32 samples
before it (context), and carries a recurrent state of shape (2, 1, 128) from chunk to chunk; it
returns the probability that the chunk is speech. :class:`SpeechModel` counts chunks from its
reset, so the chunk grid, and hence every probability, is the same however the stream is cut
into blocks. A chunk the caller of :meth:`SpeechModel.process` marks as not worth running
(nothing above the line's noise floor) costs nothing: it reads probability 0 and leaves the
recurrent state where it was, while the context still follows the signal.

A desk's two taps each call the network once per block, with their own state: both taps in
one call of a two-stream graph measured no cheaper than two calls, and dearer when one tap has
far fewer chunks past its gate (as a listening agent's has), since the padding runs through the
encoder too.
"""
from __future__ import annotations

import functools
import pathlib

import numpy as np

from deskline.dsp.grid import RATE_HZ

CHUNK_SAMPLES = 256
CONTEXT_SAMPLES = 32
STATE_SHAPE = (2, 1, 128)
assert RATE_HZ == 8000, "the speech model files are Silero's 8 kHz network"
MODELS_DIR = pathlib.Path(__file__).resolve().parents[1] / "data" / "models"
#: The model file: a run of chunks of one stream per call.
MODEL_PATH = MODELS_DIR / "silero_vad_8k.onnx"

@functools.cache
def _session():
    """The process's inference session (loaded on first use, one thread, CPU)."""
    import onnxruntime as ort

    if not MODEL_PATH.is_file():
        raise FileNotFoundError(f"speech model missing from the package: {MODEL_PATH}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(MODEL_PATH), sess_options=opts,
                                providers=["CPUExecutionProvider"])


class SpeechModel:
    """Streaming speech probability per 32 ms chunk of 8 kHz audio (one stream's state)."""

    def __init__(self) -> None:
        _session()                        # a missing model file is found now, not mid-call
        self._state = np.zeros(STATE_SHAPE, dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """A new call: zero state and context, the chunk grid starts again at this sample."""
        self._state[...] = 0.0
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        #: chunks completed since reset, and how many of them the network was run on
        self.chunks = 0
        self.runs = 0

    def due(self, n_samples: int) -> int:
        """How many chunks feeding ``n_samples`` more samples will complete."""
        return (len(self._pending) + n_samples) // CHUNK_SAMPLES

    def process(self, x: np.ndarray, run: np.ndarray | None = None) -> np.ndarray:
        """Probabilities of the chunks completed by ``x`` (0 for those ``run`` says to skip),
        all of them in one call of the network.

        ``run``: one bool per completed chunk (see :meth:`due`); None runs every chunk.
        """
        buf = np.concatenate([self._pending, np.asarray(x, dtype=np.float32)])
        n = len(buf) // CHUNK_SAMPLES
        self._pending = buf[n * CHUNK_SAMPLES:]
        # each chunk with the CONTEXT_SAMPLES before it (the stream's own before the first)
        framed = np.concatenate([self._context, buf[: n * CHUNK_SAMPLES]])
        if n:
            self._context = framed[-CONTEXT_SAMPLES:].copy()
        run_at = np.arange(n) if run is None else np.flatnonzero(np.asarray(run, dtype=bool)[:n])
        self.chunks += n
        self.runs += len(run_at)
        probs = np.zeros(n)
        if len(run_at):
            starts = run_at * CHUNK_SAMPLES
            inputs = framed[starts[:, None] + np.arange(CONTEXT_SAMPLES + CHUNK_SAMPLES)]
            out, state = _session().run(None, {"input": inputs, "state": self._state})
            probs[run_at] = out
            self._state[...] = state
        return probs
