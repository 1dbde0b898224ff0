"""The floor service (``deskline floor serve``) as a process, and a headless Chromium."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

from broker_harness import free_port, wait_port

from deskline.floor.web import hash_password

LEAD_PASSWORD = "floor-lead-secret"

FLOOR_TOML = """\
[broker]
host = "127.0.0.1"
port = {broker_port}
credentials_file = "{cred}"
client_id = "{client_id}"

[store]
path = "{store}"

[web]
host = "127.0.0.1"
port = {web_port}
password_hash = "{hash}"
secret_file = "{secret}"

[report]
timezone = "UTC"
[report.shifts]
early = "06:00-14:00"
late = "14:00-22:00"
night = "22:00-06:00"
"""


class FloorService:
    """``deskline floor serve`` against ``broker``, its page on a free loopback port."""

    def __init__(self, broker, workdir, client_id: str = "deskline-floor"):
        self.workdir = str(workdir)
        self.web_port = free_port()
        self.store_path = os.path.join(self.workdir, "floor.db")
        self.config = os.path.join(self.workdir, "floor.toml")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(FLOOR_TOML.format(broker_port=broker.port, cred=broker.cred_file("floor"),
                                      client_id=client_id, store=self.store_path,
                                      web_port=self.web_port, hash=hash_password(LEAD_PASSWORD),
                                      secret=os.path.join(self.workdir, "session.key")))
        self.log_path = os.path.join(self.workdir, "floor.log")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> "FloorService":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deskline", "floor", "serve", "--config", self.config],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            wait_port(self.web_port, 20.0)
        except TimeoutError:
            raise RuntimeError(f"the floor service did not start:\n{self.log()}") from None
        return self

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(5)
        self.proc = None
        self._log.close()
        return rc


def chromium():
    """Debian's Chromium, headless, through its chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        raise RuntimeError("chromium and chromium-driver are not installed "
                           "(scripts/test.sh installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=opts)


def sign_in(driver, url: str, password: str = LEAD_PASSWORD) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "/login")
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "signin").click()
