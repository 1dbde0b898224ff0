"""The learned speech evidence: Silero VAD's network (ONNX) run at 8 kHz on 32 ms chunks.

The model file ``deskline/data/models/silero_vad.onnx`` ships inside the package (Silero VAD
6.2.3, MIT licence, Silero Team; see ``deskline/data/models/SILERO_VAD_LICENSE`` and NOTICE),
so nothing is fetched at run time. It is run with onnxruntime alone (no torch), on one thread:
a desk must not spin up a thread pool for a 2 MB network.

At 8 kHz the network takes a chunk of 256 new samples (32 ms) preceded by the last 32 samples
before it (context), and carries a recurrent state of shape (2, 1, 128) from chunk to chunk; it
returns the probability that the chunk is speech. :class:`SpeechModel` counts chunks from its
reset, so the chunk grid, and hence every probability, is the same however the stream is cut
into blocks. A chunk the caller of :meth:`SpeechModel.process` marks as not worth running
(nothing above the line's noise floor) costs nothing: it reads probability 0 and leaves the
recurrent state where it was, while the context still follows the signal.
"""
from __future__ import annotations

import pathlib

import numpy as np

from deskline.dsp.grid import RATE_HZ

CHUNK_SAMPLES = 256
CONTEXT_SAMPLES = 32
STATE_SHAPE = (2, 1, 128)
MODEL_PATH = pathlib.Path(__file__).resolve().parents[1] / "data" / "models" / "silero_vad.onnx"

_SESSION = None


def _session():
    """The process's one inference session (loaded on first use, one thread, CPU)."""
    global _SESSION
    if _SESSION is None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        if not MODEL_PATH.is_file():
            raise FileNotFoundError(f"speech model missing from the package: {MODEL_PATH}")
        _SESSION = ort.InferenceSession(str(MODEL_PATH), sess_options=opts,
                                        providers=["CPUExecutionProvider"])
    return _SESSION


class SpeechModel:
    """Streaming speech probability per 32 ms chunk of 8 kHz audio.

    The network is run through an I/O binding: its input, its probability and its recurrent
    state live in arrays bound once, the state passed back and forth between two of them, so a
    chunk costs the network and not the building and checking of its inputs (a sixth less per
    chunk than ``InferenceSession.run``).
    """

    def __init__(self) -> None:
        session = _session()
        self._run = session.run_with_iobinding
        self._sr = np.array(RATE_HZ, dtype=np.int64)
        self._input = np.zeros((1, CONTEXT_SAMPLES + CHUNK_SAMPLES), dtype=np.float32)
        self._prob = np.zeros((1, 1), dtype=np.float32)
        self._states = (np.zeros(STATE_SHAPE, dtype=np.float32),
                        np.zeros(STATE_SHAPE, dtype=np.float32))
        # binding i reads the state from _states[i] and writes the next one to the other
        self._bindings = tuple(self._bind(session, self._states[i], self._states[1 - i])
                               for i in (0, 1))
        self.reset()

    def _bind(self, session, state_in: np.ndarray, state_out: np.ndarray):
        b = session.io_binding()
        b.bind_cpu_input("input", self._input)
        b.bind_cpu_input("state", state_in)
        b.bind_cpu_input("sr", self._sr)
        b.bind_output("output", "cpu", 0, np.float32, list(self._prob.shape),
                      self._prob.ctypes.data)
        b.bind_output("stateN", "cpu", 0, np.float32, list(STATE_SHAPE), state_out.ctypes.data)
        return b

    def reset(self) -> None:
        """A new call: zero state and context, the chunk grid starts again at this sample."""
        for state in self._states:
            state[...] = 0.0
        self._current = 0                 # which of _states holds the state now
        self._pending = np.zeros(0, dtype=np.float32)
        self._input[...] = 0.0            # the context: the last samples before the chunk
        #: chunks completed since reset, and how many of them the network was run on
        self.chunks = 0
        self.runs = 0

    def due(self, n_samples: int) -> int:
        """How many chunks feeding ``n_samples`` more samples will complete."""
        return (len(self._pending) + n_samples) // CHUNK_SAMPLES

    def process(self, x: np.ndarray, run: np.ndarray | None = None) -> np.ndarray:
        """Probabilities of the chunks completed by ``x`` (0 for those ``run`` says to skip).

        ``run``: one bool per completed chunk (see :meth:`due`); None runs every chunk.
        """
        buf = np.concatenate([self._pending, np.asarray(x, dtype=np.float32)])
        n = len(buf) // CHUNK_SAMPLES
        self._pending = buf[n * CHUNK_SAMPLES:]
        probs = np.zeros(n)
        inp = self._input[0]
        for i in range(n):
            chunk = buf[i * CHUNK_SAMPLES:(i + 1) * CHUNK_SAMPLES]
            if run is None or run[i]:
                inp[CONTEXT_SAMPLES:] = chunk
                self._run(self._bindings[self._current])
                self._current = 1 - self._current
                probs[i] = float(self._prob[0, 0])
                self.runs += 1
            inp[:CONTEXT_SAMPLES] = chunk[-CONTEXT_SAMPLES:]
        self.chunks += n
        return probs
