"""The desk and its replay decide alike: one recorded call, with its key presses, played through
the live service (``deskline run``'s parts, fake GPIO, real PulseAudio) and given to
``deskline simulate``, brings the same phrases in the same order at the same times (within one
analysis block) and the same call record — a phrase cut by a new one, a hold and a far-end
hang-up included.

The caller's side is one 8 kHz recording played into the line. A sound path is not a wire: on a
busy machine PulseAudio slips (a stream that starves plays silence, a capture that overflows
loses a few blocks), so the card does not deliver the file sample for sample. What the replay
is given is therefore the call as the desk heard it: every audio run the card delivered, in
order, as a 48 kHz recording, with the desk's own stamps of its hook and key edges as the
events file. Where the card's clock jumped over lost audio, the desk's times after the jump
are moved back by it, which is what the replay's clock sees.

Before the handset is lifted the line carries a short beep (nothing is analysed on-hook), so
the agent's key presses land where the call plans them against the caller's speech.
"""
import json
import pathlib
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from deskline.call.events import Hook, Key, PhraseDone, Play
from deskline.config import loads_config
from deskline.engine import BaseSink
from deskline.record.journal import Journal
from deskline.recordings.callmix import CallBuilder

from deskline.recordings.callmix import at_active_level, load_clip

from live_harness import write_short_phrases

pytestmark = pytest.mark.audio

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"

RATE = 8000
MARK_AT_S, MARK_S = 0.1, 0.05
BLOCK_S = 0.05          # the desk's analysis block ([audio] block_s)

CONFIG = """\
[desk]
hotline_name = "测试热线"
agent_no = "1023"
language = "zh"
profile = "quick"

[hw]
backend = "fake"
hook_debounce_s = 0.02

[audio]
backend = "card"
card = "deskline_card"
rate_hz = 48000
block_s = {block_s}
tx_channel = "none"

[journal]
path = "{journal}"

[phrases]
dir = "{phrases}"

[profiles.quick]
silence_timeout_s = 1.5
release_after_s = 1.0
closing_silence_s = 1.0
min_pause_s = 0.4
echo_tail_s = 0.1
"""

#: What the agent does, on the recording's clock: (t_s, fake desk command).
PLAN = [
    (0.5, "hook off"),
    (2.8, "press greet"),      # while the silent caller's greeting_repeat sounds: cuts it
    (7.5, "press hold"),
    (9.5, "press hold"),
    (20.5, "hook on"),
]
BUSY_AT_S = 14.0
DURATION_S = 21.5


def _busy_tone(duration_s):
    """China's busy tone (450 Hz, 0.35 s on, 0.35 s off) at -20 dBov."""
    t = np.arange(int(duration_s * RATE)) / RATE
    return np.sqrt(2) * 10 ** (-20 / 20) * np.sin(2 * np.pi * 450 * t) * ((t % 0.7) < 0.35)


def _call() -> np.ndarray:
    b = CallBuilder(DURATION_S)
    fridge = load_clip(FIXTURES / "freesound_fridge.wav", rate_hz=RATE)
    b.background(fridge, -55.0, rng=np.random.default_rng(3))      # a room behind the caller
    caller = at_active_level(load_clip(FIXTURES / "silero_test.wav", rate_hz=RATE), -24.0)
    b.caller(caller[: 3 * RATE], 4.0)                 # answers the second greeting
    b.caller(caller[3 * RATE: 6 * RATE], 10.5)        # and again after the hold
    b.caller(_busy_tone(6.0), BUSY_AT_S)              # the caller's side hangs up
    x = b.samples().astype(np.float64)
    n0, n = int(MARK_AT_S * RATE), int(MARK_S * RATE)
    x[n0:n0 + n] += 0.3 * np.sin(2 * np.pi * 1000 * np.arange(n) / RATE)
    return x


class Seen(BaseSink):
    def __init__(self):
        self.events, self.actions = [], []

    def on_event(self, event):
        self.events.append(event)

    def on_actions(self, actions):
        self.actions.extend(actions)


class Tap:
    """Keeps every audio run the service reads (card time, receive tap)."""

    def __init__(self, audio):
        self.audio, self.runs, self.lock = audio, [], threading.Lock()
        self._scanned, self._mark_s = 0, None
        read = audio.read

        def tapped(timeout_s):
            got = read(timeout_s)
            if got is not None:
                with self.lock:
                    self.runs.append((got[0], got[1][:, audio.rx_channel].copy()))
            return got

        audio.read = tapped

    def now_s(self) -> float | None:
        with self.lock:
            if not self.runs:
                return None
            t0, x = self.runs[-1]
        return t0 + x.size / self.audio.rate_hz

    def mark_s(self) -> float | None:
        """Where the mark's onset fell on the card's clock (None before it came)."""
        if self._mark_s is None:
            with self.lock:
                runs = self.runs[self._scanned:]
                self._scanned = len(self.runs)
            for t0, x in runs:
                loud = np.flatnonzero(np.abs(x) > 0.15)
                if loud.size:
                    # back from the first loud sample to the start of the rising edge (the
                    # beep starts at sine phase 0)
                    i = loud[0]
                    while i > 0 and abs(x[i - 1]) > 0.01:
                        i -= 1
                    self._mark_s = t0 + i / self.audio.rate_hz
                    break
        return self._mark_s


def _wait(pred, timeout_s):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = pred()
        if got is not None:
            return got
        time.sleep(0.01)    # (the service counts other threads' CPU as its card's)
    raise AssertionError("timed out")


def _event_line(e, t_s):
    if isinstance(e, Hook):
        return {"t": t_s, "event": "hook", "state": "off" if e.off_hook else "on"}
    return {"t": t_s, "event": "key", "name": e.name}


def _live(pulse, monkeypatch, tmp_path, wav):
    from deskline.commands.run import build
    from deskline.hw.fake import FakeDeskClient
    from deskline.live.service import Service

    journal = tmp_path / "live.db"
    phrases = write_short_phrases(tmp_path / "phrases")
    cfg_path = tmp_path / "deskline.toml"
    cfg_path.write_text(CONFIG.format(block_s=BLOCK_S, journal=journal, phrases=phrases),
                        encoding="utf-8")
    monkeypatch.setenv("DESKLINE_FAKE_SOCKET", str(tmp_path / "hw.sock"))
    parts = build(loads_config(cfg_path.read_text(encoding="utf-8"), str(cfg_path)))
    seen = Seen()
    parts.sinks.append(seen)
    tap = Tap(parts.audio)
    svc = Service(parts)
    svc.start()
    stop = threading.Event()
    failed = []

    def agent():
        try:
            client = FakeDeskClient(str(tmp_path / "hw.sock"))
            player = pulse.play_into_line(wav, RATE)
            mark = _wait(tap.mark_s, 10.0)
            origin = mark - MARK_AT_S
            for t_s, command in PLAN:
                _wait(lambda: True if tap.now_s() >= origin + t_s else None, 60.0)
                assert client.send(command) == "ok", command
            _wait(lambda: True if tap.now_s() >= origin + DURATION_S else None, 60.0)
            player.wait(10)
            client.close()
        except BaseException as exc:
            failed.append(exc)
        finally:
            stop.set()

    threading.Thread(target=agent, daemon=True).start()
    try:
        while not stop.is_set():
            svc.step()
    finally:
        svc.shutdown()
    if failed:
        raise failed[0]
    rate = parts.audio.rate_hz
    gaps, end = [], None
    for t0, x in tap.runs:
        if end is not None and t0 - end > 0.5 / rate:
            gaps.append((t0, t0 - end))          # (where the clock jumped, by how much)
        end = t0 + x.size / rate
    heard = np.concatenate([x for _, x in tap.runs])
    return seen, Heard(heard, rate, tap.runs[0][0], gaps), journal, cfg_path


class Heard:
    """What the desk's card delivered, and how the desk's clock maps onto it."""

    def __init__(self, samples, rate_hz, t0_s, gaps):
        self.samples, self.rate_hz, self.t0_s, self.gaps = samples, rate_hz, t0_s, gaps

    def at(self, t_s: float) -> float:
        """A time on the desk's clock, on the clock of the recording it heard."""
        return t_s - self.t0_s - sum(by for where, by in self.gaps if where <= t_s + 1e-9)




def _record(path):
    j = Journal(path, readonly=True)
    try:
        calls = j.calls()
    finally:
        j.close()
    assert len(calls) == 1, calls
    return calls[0]


#: Record fields that only the desk can know (wall-clock times, where it was recorded).
_DESK_ONLY = {"id", "source", "started_at", "ended_at", "wall_started", "created_at"}


def _same_record(live, sim, heard: Heard):
    """Every field of the two records alike; what differs, one line each.

    The desk acts on a switch once it has settled and hears the line a run at a time, so its
    times may trail the replay's by up to one analysis block: times (``*t_s``) and lengths
    (``*_s``) within ``BLOCK_S``, a length over lost audio less what was lost. A prompt keeps
    the line as it was at the hop it began in; acting a moment later, the desk may have begun
    it a hop later: then the two hops' own figures differ as hops of speech do, and only their
    times are compared. Levels (``*_db``, ``*_dbov``) within 0.5 dB: the call's running
    figures count the hops up to a prompt or outside a hold, whose edges may be a hop apart.
    Everything else is equal.
    """
    apart = []

    def span(d, a, b):
        """The length from ``d[a]`` to ``d[b]`` on the clock of what the desk heard."""
        if d.get(a) is None or d.get(b) is None:
            return None
        return heard.at(d[b]) - heard.at(d[a])

    def walk(a, b, where, parent=None):
        key = where.rsplit(".", 1)[-1].split("[")[0]
        if isinstance(a, dict) and isinstance(b, dict):
            if key == "rx" and a.get("t_s") is not None and b.get("t_s") is not None \
                    and abs(heard.at(a["t_s"]) - b["t_s"]) > 1e-6:
                a, b = {"t_s": a["t_s"]}, {"t_s": b["t_s"]}          # not the same hop
            for k in sorted(set(a) | set(b)):
                if k not in _DESK_ONLY:
                    walk(a.get(k), b.get(k), f"{where}.{k}", a)
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{where}[{i}]")
        elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
                not isinstance(a, bool) and key.endswith(("_s", "_db", "_dbov")):
            if key.endswith("t_s"):
                a = heard.at(a)
            elif key == "duration_s" and parent is not None and "answered_t_s" in parent:
                a = span(parent, "answered_t_s", "ended_t_s") or a
            elif key == "length_s" and parent is not None and "start_t_s" in parent:
                a = span(parent, "start_t_s", "end_t_s") or a
            tol = BLOCK_S if key.endswith("_s") else 0.5
            if abs(a - b) > tol + 1e-9:
                apart.append(f"{where}: desk {a:.3f} vs replay {b:.3f}")
        elif a != b:
            apart.append(f"{where}: desk {a!r} vs replay {b!r}")

    walk(live, sim, "record")
    return apart


def test_live_desk_and_simulate_make_the_same_call(pulse_env, monkeypatch, tmp_path):
    seen, heard, live_db, cfg_path = _live(pulse_env, monkeypatch, tmp_path, _call())

    # the agent's edges as the desk stamped them, on the clock of what it heard
    stamped = [e for e in seen.events if isinstance(e, (Hook, Key))]
    assert [type(e).__name__ for e in stamped] == ["Hook", "Key", "Key", "Key", "Hook"]
    events = tmp_path / "call.events.jsonl"
    events.write_text("".join(json.dumps(_event_line(e, round(heard.at(e.t_s), 6))) + "\n"
                              for e in stamped), encoding="utf-8")
    call_wav = tmp_path / "heard.wav"
    sf.write(call_wav, heard.samples, heard.rate_hz, subtype="FLOAT")
    sim_db = tmp_path / "replay.db"
    out = subprocess.run(
        [sys.executable, "-m", "deskline", "simulate", str(call_wav), "--events", str(events),
         "--config", str(cfg_path), "--json", "--journal", str(sim_db)],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    sim_plays = [(a["phrase"], a["t"]) for a in lines if a.get("action") == "play"]

    live_plays = [(a.phrase, heard.at(a.t_s)) for a in seen.actions if isinstance(a, Play)]
    assert [p for p, _ in live_plays] == [p for p, _ in sim_plays]
    assert [p for p, _ in live_plays] == [
        "greeting", "greeting_repeat", "greeting", "hold_ask", "hold_resume"]
    for (phrase, t_live), (_, t_sim) in zip(live_plays, sim_plays):
        # (simulate --json gives times to 10 ms)
        assert abs(t_live - t_sim) <= BLOCK_S + 0.005, (phrase, t_live, t_sim)
    cut = [e.phrase for e in seen.events if isinstance(e, PhraseDone) and e.cut]
    assert cut == ["greeting_repeat"]

    live, sim = _record(live_db), _record(sim_db)
    assert live["end_reason"] == "far_end_hangup"
    assert len(live["holds"]) == 1
    apart = _same_record(live, sim, heard)
    assert apart == [], "\n".join(apart)
