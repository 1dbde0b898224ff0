"""A real Mosquitto on a free loopback port, configured by ``deskline floor setup-broker``."""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

from deskline.floor.broker import setup_broker
from deskline.floor.link import LinkSettings, read_credentials

SITE = "f3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class Broker:
    """Mosquitto with the shipped configuration for ``desks`` of site ``f3`` and user ``floor``."""

    def __init__(self, desks: list[str], *, tls: bool = False):
        # mosquitto drops root for user mosquitto: its files must be reachable by it
        self.dir = tempfile.mkdtemp(prefix="deskline-broker-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.ca_file = ""
        extra = {}
        if tls:
            self.ca_file, cert, key = make_certs(os.path.join(self.dir, "tls"))
            extra = dict(ca_file=self.ca_file, cert_file=cert, key_file=key)
        self.files = setup_broker(os.path.join(self.dir, "etc"), SITE, desks, port=self.port,
                                  bind="127.0.0.1",
                                  persistence_dir=os.path.join(self.dir, "persist"), **extra)
        for d in (os.path.join(self.dir, "etc"), os.path.join(self.dir, "etc", "deskline")):
            os.chmod(d, 0o755)
        self.proc: subprocess.Popen | None = None
        self.log = open(os.path.join(self.dir, "mosquitto.log"), "ab")

    def start(self) -> "Broker":
        self.proc = subprocess.Popen(["mosquitto", "-c", self.files.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def creds(self, user: str) -> tuple[str, str]:
        return read_credentials(os.path.join(self.files.credentials_dir, f"{user}.cred"))

    def cred_file(self, user: str) -> str:
        return os.path.join(self.files.credentials_dir, f"{user}.cred")

    def link_settings(self, desk: str, record_path: str, *, password: str | None = None,
                      agent_no: str = "", far_end_wait_s: float = 10.0,
                      as_desk: str | None = None) -> LinkSettings:
        user, pw = self.creds(as_desk or desk)
        return LinkSettings(host="127.0.0.1", port=self.port, site=SITE, desk=desk,
                            username=user, password=password or pw, record_path=record_path,
                            agent_no=agent_no or desk[-2:], far_end_wait_s=far_end_wait_s,
                            version="test", ca_file=self.ca_file)


def make_certs(folder: str) -> tuple[str, str, str]:
    """A throwaway CA and a broker certificate for 127.0.0.1 (openssl); (ca, cert, key)."""
    os.makedirs(folder)
    os.chmod(folder, 0o755)
    ca_key, ca, key, csr, cert = (os.path.join(folder, n) for n in
                                  ("ca.key", "ca.crt", "broker.key", "broker.csr", "broker.crt"))
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out",
        ca, "-days", "2", "-subj", "/CN=deskline test floor CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=127.0.0.1")
    ext = os.path.join(folder, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    for p in (ca, cert, key):
        os.chmod(p, 0o644)      # the broker runs as user mosquitto
    return ca, cert, key


def mosquitto_user_exists() -> bool:
    try:
        pwd.getpwnam("mosquitto")
        return True
    except KeyError:
        return False
