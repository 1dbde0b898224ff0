"""The runtime (service, meter, replay, phrases) must not load scipy: ~75 MB and ~2 s on the Pi."""
import json
import subprocess
import sys

RUNTIME_MODULES = (
    "deskline.cli", "deskline.dsp.meter", "deskline.live.service", "deskline.replay.driver",
    "deskline.phrases.book", "deskline.phrases.level", "deskline.replay.simulate",
    "deskline.commands.run", "deskline.commands.measure", "deskline.commands.simulate",
    "deskline.commands.demo", "deskline.commands.phrases",
)

# Imports the modules, then runs the DSP once (a lazy import inside a function counts too).
PROBE = f"""
import importlib, json, sys
import numpy as np
for name in {RUNTIME_MODULES!r}:
    importlib.import_module(name)
from deskline.dsp.meter import LineMeter
from deskline.dsp.p56 import active_speech_level
from deskline.phrases.level import normalise
rng = np.random.default_rng(0)
x = 0.1 * rng.standard_normal(16000)
states = LineMeter(16000).feed_all(x)
level = active_speech_level(x, rate_hz=16000).level_dbov
normalise(np.concatenate([x, [0.99]]), rate_hz=16000)
print(json.dumps({{"states": len(states), "level": level,
                  "scipy": sorted(m for m in sys.modules if m.split(".")[0] == "scipy")}}))
"""


def probe(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_runtime_imports_and_runs_without_scipy():
    got = probe(PROBE)
    assert got["states"] > 50 and -30.0 < got["level"] < -10.0  # the DSP really ran
    assert got["scipy"] == [], f"runtime loaded scipy: {got['scipy'][:5]}"


def test_probe_sees_scipy_when_it_is_loaded():
    """The check itself must notice scipy (here imported on purpose)."""
    got = probe(PROBE.replace("import numpy as np", "import numpy as np\nimport scipy.ndimage", 1))
    assert "scipy.ndimage" in got["scipy"]
