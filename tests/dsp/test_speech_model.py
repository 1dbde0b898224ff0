"""The learned speech evidence: Silero's network shipped in the package, run at 8 kHz."""
import importlib.util
import pathlib

import numpy as np
import pytest
import soundfile
import soxr

import deskline
from deskline.dsp import speech_model
from deskline.dsp.speech_model import CHUNK_SAMPLES, SpeechModel
from deskline.dsp.vad import SpeechDetector

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


def load(name):
    x, rate = soundfile.read(FIXTURES / name, dtype="float64", always_2d=True)
    x = soxr.resample(x[:, 0], rate, 8000) if rate != 8000 else x[:, 0]
    return x[: len(x) // 80 * 80]


def test_the_model_is_loaded_from_the_installed_package_with_one_thread():
    package = pathlib.Path(deskline.__file__).resolve().parent
    path = speech_model.MODEL_PATH
    assert path.is_file() and package in path.parents
    opts = speech_model._session().get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    assert (speech_model.MODELS_DIR / "SILERO_VAD_LICENSE").is_file()


def test_speech_reads_high_and_silence_low():
    x = load("cmu_arctic_us_aew_a0001.wav")
    probs = SpeechModel().process(x)
    assert len(probs) == len(x) // CHUNK_SAMPLES
    assert np.mean(probs > 0.5) > 0.6
    assert SpeechModel().process(np.zeros(8000)).max() < 0.1


def test_chunks_follow_the_samples_not_the_blocks():
    x = load("silero_test.wav")[: 5 * 8000]
    whole = SpeechModel().process(x)
    model = SpeechModel()
    cuts = np.sort(np.random.default_rng(2).choice(np.arange(1, len(x)), 30, replace=False))
    parts = np.concatenate([model.process(p) for p in np.split(x, cuts)])
    np.testing.assert_allclose(parts, whole, atol=1e-6)
    assert model.chunks == len(x) // CHUNK_SAMPLES


def _silero_original():
    """Silero's own silero_vad.onnx (8 and 16 kHz, open shapes), from the silero-vad wheel."""
    import onnxruntime as ort
    spec = importlib.util.find_spec("silero_vad")
    assert spec is not None, "the tests install the silero-vad wheel (scripts/test.sh)"
    path = pathlib.Path(spec.origin).parent / "data" / "silero_vad.onnx"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _by_session_run(x, run=None):
    """Silero's original network chunk by chunk through InferenceSession.run, as its authors
    call it: the probabilities and the final state."""
    session = _silero_original()
    state = np.zeros(speech_model.STATE_SHAPE, np.float32)
    context = np.zeros(speech_model.CONTEXT_SAMPLES, np.float32)
    out = []
    for i in range(len(x) // CHUNK_SAMPLES):
        chunk = np.asarray(x[i * CHUNK_SAMPLES:(i + 1) * CHUNK_SAMPLES], np.float32)
        if run is None or run[i]:
            prob, state = session.run(None, {"input": np.concatenate([context, chunk])[None],
                                             "state": state, "sr": np.array(8000, np.int64)})
            out.append(float(prob[0, 0]))
        else:
            out.append(0.0)
        context = chunk[-speech_model.CONTEXT_SAMPLES:]
    return np.array(out), state


def test_the_shipped_network_gives_exactly_what_silero_s_original_gives_and_starts_afresh():
    x = load("silero_test.wav")[: 6 * 8000]
    run = np.random.default_rng(5).random(len(x) // CHUNK_SAMPLES) < 0.7
    model = SpeechModel()
    first = model.process(x, run)
    probs, state = _by_session_run(x, run)
    np.testing.assert_array_equal(first, probs)
    np.testing.assert_array_equal(model._state, state)
    model.reset()
    probs, state = _by_session_run(x)
    np.testing.assert_array_equal(model.process(x), probs)
    np.testing.assert_array_equal(model._state, state)


def test_skipped_chunks_read_zero_and_cost_no_run():
    x = load("cmu_arctic_us_aew_a0001.wav")[: 20 * CHUNK_SAMPLES]
    model = SpeechModel()
    run = np.arange(model.due(len(x))) % 2 == 0
    probs = model.process(x, run)
    assert np.all(probs[~run] == 0.0) and model.runs == run.sum()
    model.reset()
    assert (model.chunks, model.runs) == (0, 0)


@pytest.mark.parametrize("signal", ["silence", "line hiss at -80 dBov"])
def test_the_detector_does_not_run_the_network_on_an_idle_line(signal):
    """The cheap gate: nothing that could be a caller, no network (a silent desk costs little)."""
    n = 20 * 8000
    x = np.zeros(n) if signal == "silence" else \
        10 ** (-80 / 20) * np.random.default_rng(0).standard_normal(n)
    det = SpeechDetector()
    det.process(x)
    chunks, runs = det._model.chunks, det._model.runs
    assert chunks == n // CHUNK_SAMPLES
    assert runs <= 0.05 * chunks


def test_the_detector_runs_the_network_where_the_caller_speaks():
    x = load("cmu_arctic_us_aew_a0001.wav")
    det = SpeechDetector()
    det.process(x)
    assert det._model.runs >= 0.7 * det._model.chunks


def test_two_streams_in_turn_give_what_each_gives_alone():
    """The desk's two taps call the network in turn, block by block; each keeps its own state,
    and the probabilities are exactly those of each stream alone, whatever chunks each
    skips."""
    x = load("silero_test.wav")[: 6 * 8000]
    y = load("ami_pyannote_dev00.wav")[: 6 * 8000]
    rng = np.random.default_rng(7)
    n = len(x) // CHUNK_SAMPLES
    run_x, run_y = rng.random(n) < 0.8, rng.random(n) < 0.5
    alone_x = SpeechModel().process(x, run_x)
    alone_y = SpeechModel().process(y, run_y)
    a, b = SpeechModel(), SpeechModel()
    got_x, got_y = [], []
    for lo in range(0, len(x), 4000):                  # in blocks, as the desk feeds them
        hi = min(lo + 4000, len(x))
        got_x.append(a.process(x[lo:hi], run_x[a.chunks:a.chunks + a.due(hi - lo)]))
        got_y.append(b.process(y[lo:hi], run_y[b.chunks:b.chunks + b.due(hi - lo)]))
    np.testing.assert_array_equal(np.concatenate(got_x), alone_x)
    np.testing.assert_array_equal(np.concatenate(got_y), alone_y)
    assert (a.runs, b.runs) == (run_x.sum(), run_y.sum())


def test_a_block_is_one_call_of_the_network(monkeypatch):
    """The chunks of a block (a second: 31 chunks, some skipped) go to onnxruntime in one call,
    not one call a chunk."""
    calls = []

    class Counting:
        def __init__(self, session):
            self.session = session

        def run(self, names, feeds):
            calls.append(feeds["input"].shape)
            return self.session.run(names, feeds)

    counting = Counting(speech_model._session())
    monkeypatch.setattr(speech_model, "_session", lambda: counting)
    model = SpeechModel()
    run = np.arange(model.due(8000)) % 3 > 0
    model.process(load("silero_test.wav")[:8000], run)
    assert calls == [(int(run.sum()), 288)]


def test_the_shipped_files_are_what_the_derivation_script_makes(tmp_path):
    """The derived network file is reproducible from Silero's original (the dev extra's onnx
    package and the silero-vad wheel); the script checks it against the original first."""
    import subprocess
    import sys
    root = pathlib.Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, str(root / "scripts" / "derive_speech_model.py"),
                    "--out", str(tmp_path)], check=True, capture_output=True)
    import onnx
    path = speech_model.MODEL_PATH
    # the graphs (operators, weights, inputs and outputs), whatever metadata a newer onnx
    # package writes around them
    assert onnx.load(str(tmp_path / path.name)).graph == onnx.load(str(path)).graph
