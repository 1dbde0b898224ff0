"""The functional core (dsp/, call/) must stay pure: no hardware, no clocks, no threads, no sleeps;
and the hardware (hw/) knows no rules: it never imports the core, the engine or its drivers."""
import ast
import pathlib

import pytest

PKG = pathlib.Path(__file__).resolve().parents[1] / "firmware" / "deskline"
PURE = sorted(p for d in ("dsp", "call") for p in (PKG / d).rglob("*.py"))

FORBIDDEN_MODULES = {
    "gpiozero", "lgpio", "RPi", "gpiod", "sounddevice", "pyaudio", "serial", "soundfile",
    "threading", "_thread", "multiprocessing", "asyncio", "concurrent", "time", "datetime",
    "sched", "socket", "subprocess", "deskline.hw", "deskline.live", "deskline.record",
    "deskline.replay", "deskline.engine", "deskline.recordings", "deskline.commands",
}
HW = sorted((PKG / "hw").rglob("*.py"))
#: what hw/ may import from the package: its own modules and the exceptions
HW_ALLOWED = ("deskline.hw", "deskline.exc")
FORBIDDEN_CALLS = {"sleep", "time", "monotonic", "perf_counter", "now", "utcnow", "today"}


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno


def test_core_modules_exist():
    assert PURE, "dsp/ and call/ hold the functional core"


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(PKG)))
def test_core_module_is_pure(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [
        f"{path.name}:{line} imports {mod}"
        for mod, line in _imports(tree)
        if any(mod == f or mod.startswith(f + ".") for f in FORBIDDEN_MODULES)
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in FORBIDDEN_CALLS and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id in {"time", "datetime", "date", "os"}:
                bad.append(f"{path.name}:{node.lineno} calls {node.func.value.id}.{node.func.attr}")
    assert not bad, "; ".join(bad)


def test_purity_check_catches_offenders(tmp_path):
    """The checker itself must fail on a module that sleeps or imports gpiozero."""
    src = "import time\nfrom gpiozero import LED\ntime.sleep(1)\n"
    tree = ast.parse(src)
    mods = {m for m, _ in _imports(tree)}
    assert "time" in mods and "gpiozero" in mods


@pytest.mark.parametrize("path", HW, ids=lambda p: str(p.relative_to(PKG)))
def test_hardware_module_knows_no_rules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [f"{path.name}:{line} imports {mod}" for mod, line in _imports(tree)
           if (mod == "deskline" or mod.startswith("deskline."))
           and not any(mod == a or mod.startswith(a + ".") for a in HW_ALLOWED)]
    assert not bad, "; ".join(bad)


def test_rules_check_catches_a_hardware_module_importing_the_rules():
    tree = ast.parse("from deskline.call.hook import HookDebouncer\nimport deskline.hw.roles\n")
    mods = [m for m, _ in _imports(tree)]
    assert [m for m in mods if not any(m == a or m.startswith(a + ".") for a in HW_ALLOWED)] \
        == ["deskline.call.hook"]


def _dsp_import_graph(files):
    """Module name -> the deskline.dsp modules it imports (anywhere in it, functions included)."""
    graph = {}
    for path in files:
        name = "deskline.dsp." + path.stem
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = {m for m, _ in _imports(tree) if m.startswith("deskline.dsp.")} - {name}
    return graph


def _cycles(graph):
    """Every import circle in ``graph``, each as the list of modules around it."""
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_dsp_modules_import_no_circle():
    graph = _dsp_import_graph(sorted((PKG / "dsp").glob("*.py")))
    assert "deskline.dsp.noise" in graph["deskline.dsp.vad"]
    assert not _cycles(graph), _cycles(graph)


def test_circle_check_finds_a_circle_through_a_function_local_import(tmp_path):
    (tmp_path / "noise.py").write_text("def f():\n    from deskline.dsp.vad import g\n")
    (tmp_path / "vad.py").write_text("from deskline.dsp.noise import f\n")
    graph = _dsp_import_graph(sorted(tmp_path.glob("*.py")))
    assert _cycles(graph) == [["deskline.dsp.noise", "deskline.dsp.vad", "deskline.dsp.noise"]]
