"""The call recorder's thread: everything written in the order the loop gave it, lines batched."""
from deskline.call.events import Hook, Line, Play
from deskline.dsp.state import FLOOR_DBOV, LineState
from deskline.live.service import RecorderThread


def _line(t_s):
    st = LineState(t_s, False, FLOOR_DBOV, FLOOR_DBOV, -70.0, 0.0, FLOOR_DBOV, False)
    return Line(t_s, st, None)


class Log:
    """Stands in for CallRecorder: notes each call; a Line at t = 0.02 fails to be written."""

    def __init__(self):
        self.seen = []

    def on_event(self, event):
        self.seen.append(("event", type(event).__name__, event.t_s))

    def on_line(self, line):
        if line.t_s == 0.02:
            raise OSError("disk full")
        self.seen.append(("line", line.t_s))

    def on_actions(self, actions):
        self.seen.append(("actions", [type(a).__name__ for a in actions]))

    def finish(self, t_s, reason):
        self.seen.append(("finish", reason))


def test_lines_go_over_together_and_in_order_with_everything_else():
    log = Log()
    rt = RecorderThread(lambda: (log, lambda: None))
    puts = []
    real_put = rt._q.put
    rt._q.put = lambda item: (puts.append(item), real_put(item))
    rt.on_event(Hook(0.0, True))
    for t in (0.01, 0.02, 0.03):
        rt.on_line(_line(t))
    rt.on_actions([Play(0.03, "greeting")])      # the lines before it are written first
    rt.on_line(_line(0.04))
    rt.on_line(_line(0.05))
    rt.flush()                                    # the end of a turn of the loop
    rt.on_line(_line(0.06))
    rt.finish(0.07)                               # and what is left at the end
    assert log.seen == [
        ("event", "Hook", 0.0), ("line", 0.01), ("line", 0.03),
        ("actions", ["Play"]), ("line", 0.04), ("line", 0.05),
        ("line", 0.06), ("finish", "service_stopped")]
    assert [p[0] for p in puts if p is not None] == [
        "on_event", "on_lines", "on_actions", "on_lines", "on_lines", "finish"]
