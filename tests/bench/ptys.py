"""A socat pty pair: two pseudo-terminals joined, one for the host driver, one for the rig."""
import os
import pathlib
import subprocess
import time


class PtyPair:
    """``socat`` joining two pseudo-terminals: ``host`` for pyserial, ``rig`` for the firmware."""

    def __init__(self, directory: pathlib.Path):
        self.host = str(directory / "ttyHOST")
        self.rig = str(directory / "ttyRIG")
        self.proc = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={self.host}", f"pty,raw,echo=0,link={self.rig}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + 5
        while not (os.path.exists(self.host) and os.path.exists(self.rig)):
            if self.proc.poll() is not None or time.monotonic() > end:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                self.close()
                raise RuntimeError(f"socat did not make the pty pair: {err}")
            time.sleep(0.01)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
