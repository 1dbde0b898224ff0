"""The notify protocol arrives on a real AF_UNIX datagram socket, and is silent without one."""
import os
import socket

from deskline.live.sdnotify import Notifier, watchdog_interval_s


def _listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(2)
    return s


def test_datagrams_arrive(tmp_path, monkeypatch):
    path = str(tmp_path / "notify")
    sock = _listen(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    n = Notifier()
    assert n.ready("listening") and n.watchdog() and n.stopping()
    assert n.extend_timeout(30, "preparing phrases (2/9)")
    got = [sock.recv(4096).decode() for _ in range(4)]
    assert got == ["READY=1\nSTATUS=listening", "WATCHDOG=1", "STOPPING=1",
                   "EXTEND_TIMEOUT_USEC=30000000\nSTATUS=preparing phrases (2/9)"]
    n.close()
    sock.close()


def test_abstract_socket(monkeypatch):
    name = f"deskline-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    assert Notifier().watchdog()
    assert sock.recv(100) == b"WATCHDOG=1"
    sock.close()


def test_no_socket_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = Notifier()
    assert not n.enabled and n.ready() is False and n.watchdog() is False


def test_vanished_socket_does_not_raise(tmp_path):
    assert Notifier(str(tmp_path / "gone")).ready() is False


def test_watchdog_interval(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "10000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval_s() == 5.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval_s() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval_s() is None
