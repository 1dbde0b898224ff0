"""The built wheel carries the speech detector's network, its licence and its source note, so an
installed desk loads the model from its own package and never from the network."""
import hashlib
import pathlib
import re
import subprocess
import sys
import zipfile

REPO = pathlib.Path(__file__).resolve().parents[2]
MODELS = "deskline/data/models/"


def test_wheel_ships_the_speech_model_with_its_licence(tmp_path):
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                          "-q", "-w", str(tmp_path), str(REPO)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    (wheel,) = tmp_path.glob("deskline-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        files = [MODELS + "silero_vad_8k.onnx"]
        assert {*files, MODELS + "SILERO_VAD_LICENSE", MODELS + "README.md"} <= names
        models = [z.read(f) for f in files]
        note = z.read(MODELS + "README.md").decode("utf-8")
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requires = z.read(meta).decode("utf-8")
    # the files are the ones the note names, byte for byte
    for name, model in zip(files, models):
        row = next(line for line in note.splitlines() if f"`{name.rsplit('/', 1)[1]}`" in line)
        recorded = re.findall(r"SHA-256 `([0-9a-f]{64})`", row)[0]   # then the source's
        assert hashlib.sha256(model).hexdigest() == recorded, name
    assert re.search(r"^Requires-Dist: onnxruntime", requires, re.M)
