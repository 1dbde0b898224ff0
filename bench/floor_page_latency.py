"""From the SUPERVISOR key to the floor lead's screen, and from the lead's click to the desk's LED.

Everything real, on this one machine: a ``deskline run`` desk (fake GPIO over its control socket,
its sound card a PulseAudio null sink), Mosquitto with the shipped configuration, ``deskline
floor serve``, and the floor map in headless Chromium (Debian's, through chromedriver).

Per trial:
1. key → page: the "press supervisor" command on the desk's control socket, to the moment the
   page's MutationObserver sees the alert's element added to the map (``Date.now()`` in the
   page, ``time.time()`` here: the same clock);
2. click → LED: the Acknowledge button clicked (Selenium) to the desk's LED showing the
   acknowledgement cue (its state polled over the control socket every 5 ms).

Usage: ``python3 bench/floor_page_latency.py [--trials 30] [--out bench/results/floor_page.md]``
"""
from __future__ import annotations

import argparse
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "floor"))
sys.path.insert(0, str(REPO / "bench"))

from broker_harness import SITE, Broker  # noqa: E402
from floor_harness import FloorService, chromium, sign_in  # noqa: E402
from live_harness import CONFIG, LiveService, write_short_phrases  # noqa: E402
from pulse_harness import PulseHarness  # noqa: E402
from results_file import write_results  # noqa: E402

FLOOR = """
[floor]
host = "127.0.0.1"
port = {port}
credentials_file = "{cred}"
site = "{site}"
desk_id = "desk-01"
"""

OBSERVE = """
window.__seen = {};
new MutationObserver(() => {
  for (const e of document.querySelectorAll('.alert[data-alert]'))
    if (!(e.dataset.alert in window.__seen)) window.__seen[e.dataset.alert] = Date.now();
}).observe(document.getElementById('alerts'), {childList: true, subtree: true});
"""


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main(argv=None) -> int:
    from selenium.webdriver.common.by import By

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "floor_page.md"))
    args = ap.parse_args(argv)
    work = pathlib.Path(tempfile.mkdtemp(prefix="floor-page-"))
    pulse = PulseHarness().start()
    broker = Broker(["desk-01"]).start()
    floor = FloorService(broker, work).start()
    (work / "desk").mkdir()
    phrases = write_short_phrases(work / "desk" / "phrases")
    cfg = work / "desk" / "deskline.toml"
    cfg.write_text(CONFIG.format(journal=work / "desk" / "calls.db", phrases=phrases)
                   + FLOOR.format(port=broker.port, cred=broker.cred_file("desk-01"), site=SITE),
                   encoding="utf-8")
    desk = LiveService(str(work / "desk"), pulse.env, str(cfg)).start()
    driver = chromium()
    to_page, to_led = [], []
    try:
        sign_in(driver, floor.url)
        deadline = time.monotonic() + 20
        while not driver.find_elements(By.CSS_SELECTOR, f'.desk.online[data-desk="{SITE}/desk-01"]'):
            if time.monotonic() > deadline:
                raise RuntimeError("the desk never showed online")
            time.sleep(0.05)
        driver.execute_script(OBSERVE)
        for _ in range(args.trials):
            before = set(driver.execute_script("return Object.keys(window.__seen)"))
            t0 = time.time()
            desk.desk.send("press supervisor")
            while True:
                seen = driver.execute_script("return window.__seen")
                new = [k for k in seen if k not in before]
                if new:
                    break
                if time.time() - t0 > 10:
                    raise RuntimeError(f"the alert never reached the page (trial {len(to_page)}): "
                                       f"{driver.execute_script('return document.body.innerText')}\n"
                                       f"{desk.log()[-3000:]}")
                time.sleep(0.005)
            to_page.append(seen[new[0]] - t0 * 1000.0)
            button = driver.find_element(By.CSS_SELECTOR, f'button.ack[data-alert="{new[0]}"]')
            t1 = time.time()
            button.click()
            while desk.state()["led"] != "acked":
                if time.time() - t1 > 10:
                    raise RuntimeError(f"the acknowledgement never reached the desk (trial "
                                       f"{len(to_led)}): {desk.state()}\n{desk.log()[-3000:]}")
                time.sleep(0.005)
            to_led.append((time.time() - t1) * 1000.0)
            while desk.state()["led"] == "acked":        # the cue passes before the next trial
                time.sleep(0.05)
    finally:
        driver.quit()
        desk.stop()
        desk.close()
        floor.stop()
        broker.close()
        pulse.stop()
    cmd = "python3 bench/floor_page_latency.py " + " ".join(sys.argv[1:] if argv is None else argv)
    row = lambda name, xs: (f"| {name} | {len(xs)} | {statistics.median(xs):.0f} | "  # noqa: E731
                            f"{pct(xs, 0.9):.0f} | {max(xs):.0f} |")
    lines = ["# The floor page: key to screen, click to LED", "",
             f"`{cmd.strip()}` on {platform.machine()}, {os.cpu_count()} cores (shared with other "
             f"work), Python {platform.python_version()}: a real `deskline run` desk (fake GPIO, "
             "PulseAudio null-sink card), Mosquitto with the shipped configuration, `deskline "
             "floor serve`, Debian's Chromium headless.", "",
             "| path | trials | median (ms) | 90th percentile (ms) | worst (ms) |",
             "|---|---|---|---|---|",
             row("SUPERVISOR key → alert on the floor map", to_page),
             row("Acknowledge click → the desk's LED", to_led), "",
             "Includes the desk's loop (edges debounced per `[hw]`), the link's thread, the "
             "broker, the floor service's store and its event stream, and the page's rendering; "
             "the LED side includes the desk's next loop turn."]
    write_results(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
