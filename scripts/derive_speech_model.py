"""Derive the speech detector's network file from Silero VAD's ONNX model.

Silero's ``silero_vad.onnx`` serves 8 and 16 kHz behind an ``If`` on its ``sr`` input, leaves
the batch and chunk dimensions open, and takes one 32 ms chunk per run, so onnxruntime runs
about sixty small shape operators (Shape, Gather, Unsqueeze, Equal, nested Ifs) around the
network's few real ones for every chunk, and the desk would call it thirty times a second a
tap. The network is a convolutional encoder that sees one chunk at a time, then an LSTM cell
that carries the state from chunk to chunk, then a one-layer decoder of the cell's output: only
the cell is recurrent. So the derived graph takes a whole run of chunks of one stream at once:
the encoder runs on all of them as one batch, and an ONNX ``LSTM`` over the run's sequence (the
cell's weights, in ONNX's gate order) replaces the single-step cell. This script writes::

    silero_vad_8k.onnx   inputs  ``input`` (T, 288) float32: T chunks of 256 samples, each
                                 after the 32 samples before it (its context);
                                 ``state`` (2, 1, 128) float32: the LSTM's h and c
                         outputs ``output`` (T,): each chunk's speech probability;
                                 ``stateN`` (2, 1, 128): the state after the last chunk

The weights and operators are Silero's 8 kHz ones. Before writing, the script runs the derived
graph and the original chunk by chunk on the same signal and stops unless the probabilities and
the final state are identical (so a Silero release laid out differently fails here, not on a
desk); ``tests/dsp/test_speech_model.py`` checks them again on real speech. Needs the ``onnx``
package (the ``dev`` extra) and onnxruntime; the original comes from the installed
``silero-vad`` wheel unless ``--source`` names it.

Usage: ``python3 scripts/derive_speech_model.py [--source silero_vad.onnx] [--out DIR]``
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "firmware" / "deskline" / "data" / "models"
CHUNK_WITH_CONTEXT = 256 + 32
HIDDEN = 128
NAME = "silero_vad_8k.onnx"
#: the last operator of the encoder in Silero's 8 kHz branch (its output: (N, 128, 1))
ENCODER_END = "/encoder/3/activation/Relu_output_0"


def wheel_model() -> pathlib.Path:
    """``silero_vad/data/silero_vad.onnx`` in the installed silero-vad wheel."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise SystemExit("derive_speech_model: the silero-vad wheel is not installed "
                         "(pip install --no-deps silero-vad), or pass --source")
    return pathlib.Path(spec.origin).parent / "data" / "silero_vad.onnx"


def _fail(source, what: str):
    raise SystemExit(f"derive_speech_model: {source}: {what}: a different model layout")


def derive(source: pathlib.Path):
    """The 8 kHz model for a run of chunks of one stream (an onnx ModelProto)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    switches = [n for n in graph.node if n.op_type == "If"]
    if len(switches) != 1:
        _fail(source, f"{len(switches)} top-level If operators, not the one on sr")
    # the condition is sr == 16000, so the else branch is the 8 kHz network
    (branch,) = [a.g for a in switches[0].attribute if a.name == "else_branch"]
    consts = {n.output[0]: n for n in branch.node if n.op_type == "Constant"}

    def weight(suffix: str):
        found = [numpy_helper.to_array(n.attribute[0].t) for name, n in consts.items()
                 if name.endswith(suffix)]
        if len(found) != 1:
            _fail(source, f"no single constant named *{suffix}")
        return found[0]

    # the encoder: the operators its output depends on, in the branch's order
    producer = {o: n for n in branch.node for o in n.output}
    ends = [o for o in producer if o.endswith(ENCODER_END)]
    if len(ends) != 1:
        _fail(source, f"no single output named *{ENCODER_END}")
    needed, todo = set(), [ends[0]]
    while todo:
        name = todo.pop()
        node = producer.get(name)
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        todo.extend(i for i in node.input if i)
    encoder = [n for n in branch.node if id(n) in needed]
    outer = {i for n in encoder for i in n.input if i} - set(producer)
    if outer != {"input"}:
        _fail(source, f"the encoder reads {sorted(outer)}, not only the input")
    # the encoder must be Silero's four convolutions, to a (chunks, 128, 1) output
    if [n.op_type for n in encoder].count("Conv") != 5:    # the STFT's, then four layers
        _fail(source, "an encoder without the STFT and four convolutions")

    def onnx_gates(w):
        # PyTorch's LSTM cell stacks its gates i, f, g, o; ONNX's LSTM wants i, o, f, c
        i, f, g, o = np.split(w, 4)
        return np.concatenate([i, o, f, g])

    w_ih, w_hh = weight("decoder.rnn.weight_ih"), weight("decoder.rnn.weight_hh")
    b_ih, b_hh = weight("decoder.rnn.bias_ih"), weight("decoder.rnn.bias_hh")
    if w_ih.shape != (4 * HIDDEN, HIDDEN) or w_hh.shape != (4 * HIDDEN, HIDDEN):
        _fail(source, f"LSTM cell weights of shape {w_ih.shape}, {w_hh.shape}")
    f32 = onnx.TensorProto.FLOAT

    def tensor(name, value, dtype=np.float32):
        return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)

    dec_w, dec_b = weight("decoder.decoder.2.weight"), weight("decoder.decoder.2.bias")
    if dec_w.shape != (1, HIDDEN, 1) or dec_b.shape != (1,):
        _fail(source, f"a decoder of shape {dec_w.shape}, {dec_b.shape}")
    initializers = [
        tensor("lstm_W", onnx_gates(w_ih)[None]),
        tensor("lstm_R", onnx_gates(w_hh)[None]),
        tensor("lstm_B", np.concatenate([onnx_gates(b_ih), onnx_gates(b_hh)])[None]),
        tensor("decoder_W", dec_w),
        tensor("decoder_B", dec_b),
        tensor("shape_sequence", [-1, 1, HIDDEN], np.int64),
        tensor("shape_cells", [-1, HIDDEN, 1], np.int64),
        tensor("shape_probs", [-1], np.int64),
        tensor("at_0", [0], np.int64), tensor("at_1", [1], np.int64),
        tensor("at_2", [2], np.int64),
    ]
    node = helper.make_node
    nodes = encoder + [
        # (T, 128, 1) -> (T, 1, 128): the LSTM's sequence, time first, one stream
        node("Reshape", [ends[0], "shape_sequence"], ["sequence"], name="sequence"),
        node("Slice", ["state", "at_0", "at_1", "at_0"], ["h0"], name="h0"),
        node("Slice", ["state", "at_1", "at_2", "at_0"], ["c0"], name="c0"),
        node("LSTM", ["sequence", "lstm_W", "lstm_R", "lstm_B", "", "h0", "c0"],
             ["cells", "hN", "cN"], hidden_size=HIDDEN, name="rnn"),
        # the decoder on each chunk's cell output: ReLU, a 1x1 convolution, the sigmoid
        node("Reshape", ["cells", "shape_cells"], ["cell_columns"], name="cell_columns"),
        node("Relu", ["cell_columns"], ["rectified"], name="rectified"),
        node("Conv", ["rectified", "decoder_W", "decoder_B"], ["logits"], kernel_shape=[1],
             name="decoder"),
        node("Sigmoid", ["logits"], ["sigmoid"], name="sigmoid"),
        node("Reshape", ["sigmoid", "shape_probs"], ["output"], name="output"),
        node("Concat", ["hN", "cN"], ["stateN"], axis=0, name="stateN"),
    ]
    inputs = [helper.make_tensor_value_info("input", f32, ["T", CHUNK_WITH_CONTEXT]),
              helper.make_tensor_value_info("state", f32, [2, 1, HIDDEN])]
    outputs = [helper.make_tensor_value_info("output", f32, ["T"]),
               helper.make_tensor_value_info("stateN", f32, [2, 1, HIDDEN])]
    derived = helper.make_graph(nodes, "silero_vad_8k", inputs, outputs,
                                initializer=initializers)
    out = helper.make_model(derived, opset_imports=model.opset_import,
                            ir_version=model.ir_version,
                            producer_name="deskline scripts/derive_speech_model.py")
    onnx.checker.check_model(out)
    return out


def check(source: pathlib.Path, derived) -> None:
    """Stop unless ``derived`` gives exactly what the original gives chunk by chunk (20 s of a
    fixed pseudo-random signal with loud and quiet stretches, in runs of 31 chunks)."""
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    original = ort.InferenceSession(str(source), sess_options=opts,
                                    providers=["CPUExecutionProvider"])
    ours = ort.InferenceSession(derived.SerializeToString(), sess_options=opts,
                                providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    n = 625                                            # 20 s of 32 ms chunks
    x = (rng.standard_normal(n * 256) * np.repeat(rng.choice([0.001, 0.05, 0.3], n // 25), 6400)
         ).astype(np.float32)
    framed = np.concatenate([np.zeros(32, np.float32), x])
    chunks = framed[np.arange(n)[:, None] * 256 + np.arange(CHUNK_WITH_CONTEXT)]
    state = np.zeros((2, 1, HIDDEN), np.float32)
    want = []
    for row in chunks:
        prob, state = original.run(None, {"input": row[None], "state": state,
                                          "sr": np.array(8000, np.int64)})
        want.append(prob[0, 0])
    got, ours_state = [], np.zeros((2, 1, HIDDEN), np.float32)
    for lo in range(0, n, 31):
        prob, ours_state = ours.run(None, {"input": chunks[lo:lo + 31], "state": ours_state})
        got.extend(prob)
    if not (np.array_equal(np.array(got), np.array(want)) and np.array_equal(ours_state, state)):
        worst = float(np.max(np.abs(np.array(got) - np.array(want))))
        _fail(source, f"the derived graph differs from the original (by up to {worst:.3g})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=pathlib.Path, default=None,
                    help="Silero's silero_vad.onnx (default: the installed silero-vad wheel's)")
    ap.add_argument("--out", type=pathlib.Path, default=OUT)
    args = ap.parse_args(argv)
    import onnx

    source = args.source or wheel_model()
    if not source.is_file():
        raise SystemExit(f"derive_speech_model: {source}: no such file")
    print(f"source {source} sha256 {hashlib.sha256(source.read_bytes()).hexdigest()}")
    args.out.mkdir(parents=True, exist_ok=True)
    model = derive(source)
    check(source, model)
    path = args.out / NAME
    onnx.save(model, str(path))
    print(f"wrote {path} sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
