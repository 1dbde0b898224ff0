"""Derive the speech detector's network files from Silero VAD's ONNX model.

Silero's ``silero_vad.onnx`` serves 8 and 16 kHz behind an ``If`` on its ``sr`` input, and
leaves the batch and chunk dimensions open, so onnxruntime runs about sixty small shape
operators (Shape, Gather, Unsqueeze, Equal, nested Ifs) around the network's few real ones for
every 32 ms chunk. The desk runs only 8 kHz, one or two taps at a time, with 256 + 32 samples a
chunk; fixing exactly that lets onnxruntime fold the shape work away when it loads the model.
This script writes, for each batch size (1: one tap; 2: both taps of a desk together):

    silero_vad_8k_b{B}.onnx   the 8 kHz branch of the graph as the whole graph, with inputs
                              ``input`` (B, 288) float32 and ``state`` (2, B, 128) float32 and
                              outputs ``output`` (B, 1) and ``stateN`` (2, B, 128)

The weights and operators are Silero's, unchanged; the derived files give bit-identical
probabilities (``tests/dsp/test_speech_model.py`` checks them against the original on real
speech). Needs the ``onnx`` package (the ``dev`` extra); the original comes from the installed
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
STATE = (2, 128)
BATCHES = (1, 2)


def wheel_model() -> pathlib.Path:
    """``silero_vad/data/silero_vad.onnx`` in the installed silero-vad wheel."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise SystemExit("derive_speech_model: the silero-vad wheel is not installed "
                         "(pip install --no-deps silero-vad), or pass --source")
    return pathlib.Path(spec.origin).parent / "data" / "silero_vad.onnx"


def derive(source: pathlib.Path, batch: int):
    """The 8 kHz, fixed-shape model for ``batch`` chunks at a time (an onnx ModelProto)."""
    import onnx
    from onnx import helper

    model = onnx.load(str(source))
    graph = model.graph
    (switch,) = [n for n in graph.node if n.op_type == "If"]
    # the condition is sr == 16000, so the else branch is the 8 kHz network
    (branch,) = [a.g for a in switch.attribute if a.name == "else_branch"]
    produced = {o for n in branch.node for o in n.output} | {i.name for i in branch.initializer}
    outer = {i for n in branch.node for i in n.input if i} - produced
    if outer - {"input", "state"} - {i.name for i in graph.initializer}:
        raise SystemExit(f"derive_speech_model: {source}: the 8 kHz branch reads "
                         f"{sorted(outer)}, not only input and state: a different model layout")
    nodes = list(branch.node) + [
        helper.make_node("Identity", [branch.output[0].name], ["output"], name="output_id"),
        helper.make_node("Identity", [branch.output[1].name], ["stateN"], name="stateN_id")]
    f32 = onnx.TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("input", f32, [batch, CHUNK_WITH_CONTEXT]),
              helper.make_tensor_value_info("state", f32, [STATE[0], batch, STATE[1]])]
    outputs = [helper.make_tensor_value_info("output", f32, [batch, 1]),
               helper.make_tensor_value_info("stateN", f32, [STATE[0], batch, STATE[1]])]
    derived = helper.make_graph(nodes, f"silero_vad_8k_b{batch}", inputs, outputs,
                                initializer=list(graph.initializer) + list(branch.initializer))
    out = helper.make_model(derived, opset_imports=model.opset_import,
                            ir_version=model.ir_version,
                            producer_name="deskline scripts/derive_speech_model.py")
    onnx.checker.check_model(out)
    return out


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
    for batch in BATCHES:
        path = args.out / f"silero_vad_8k_b{batch}.onnx"
        onnx.save(derive(source, batch), str(path))
        print(f"wrote {path} sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
