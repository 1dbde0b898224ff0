"""The whole floor: a real ``deskline run`` desk (fake GPIO, real PulseAudio) and a scripted desk
publish to a real Mosquitto, ``deskline floor serve`` stores it, and the floor lead's page in
headless Chromium shows it live; the lead's acknowledgement reaches the desk's LED."""
import json
import time

import pytest

from broker_harness import SITE
from floor_harness import FloorService, chromium, sign_in
from live_harness import CONFIG, LiveService, write_short_phrases

from deskline.floor.simdesk import CallScript, SimDesk
from deskline.floor.store import FloorStore

pytestmark = pytest.mark.audio

FLOOR_SECTION = """
[floor]
host = "127.0.0.1"
port = {port}
credentials_file = "{cred}"
site = "{site}"
desk_id = "desk-01"
"""


def wait_for(cond, timeout_s=15.0, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def floor_service(broker, tmp_path):
    svc = FloorService(broker, tmp_path).start()
    yield svc
    svc.stop()


@pytest.fixture
def desk(broker, pulse, tmp_path):
    work = tmp_path / "desk"
    work.mkdir()
    phrases = write_short_phrases(work / "phrases")
    cfg = work / "deskline.toml"
    cfg.write_text(CONFIG.format(journal=work / "calls.db", phrases=phrases)
                   + FLOOR_SECTION.format(port=broker.port, cred=broker.cred_file("desk-01"),
                                          site=SITE), encoding="utf-8")
    svc = LiveService(str(work), pulse.env, str(cfg)).start()
    yield svc
    svc.stop()
    svc.close()


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def tile_text(driver, desk):
    """(class, text) of a desk's tile on the map, read at one moment; (None, "") if absent."""
    got = driver.execute_script(
        "const e = document.querySelector(`.desk[data-desk=\"${arguments[0]}\"]`);"
        "return e ? [e.className, e.innerText] : null;", f"{SITE}/{desk}")
    return tuple(got) if got else (None, "")


def test_a_supervisor_press_flashes_on_the_map_and_the_ack_reaches_the_desk(
        broker, floor_service, desk, browser, tmp_path):
    from selenium.webdriver.common.by import By

    sim = SimDesk(broker.link_settings("desk-02", str(tmp_path / "d2.db"), agent_no="2002"))
    sim.start()
    try:
        sign_in(browser, floor_service.url)
        wait_for(lambda: browser.current_url.rstrip("/") == floor_service.url, 10, "the map")
        # both desks on the map, online, idle, with their agents
        wait_for(lambda: "online" in (tile_text(browser, "desk-01")[0] or ""), 15, "desk-01 online")
        wait_for(lambda: "online" in (tile_text(browser, "desk-02")[0] or ""), 15, "desk-02 online")
        cls, text = tile_text(browser, "desk-01")
        assert "idle" in cls and "agent 1023" in text

        # a call on the real desk: it rings, the agent answers; the map follows without reloading
        desk.desk.send("ring on")
        wait_for(lambda: "ringing" in (tile_text(browser, "desk-01")[0] or ""), 10, "ringing on the map")
        desk.desk.send("ring off")
        desk.desk.send("hook off")
        wait_for(lambda: "in_call" in (tile_text(browser, "desk-01")[0] or ""), 10, "in a call on the map")

        # SUPERVISOR on the desk: the alert flashes on the floor map
        desk.desk.send("press supervisor")
        alert = wait_for(lambda: browser.find_elements(
            By.CSS_SELECTOR, f'.alert[data-kind="supervisor"][data-desk="{SITE}/desk-01"]'),
            10, "the supervisor alert on the page")[0]
        assert "SUPERVISOR" in alert.text and "agent 1023" in alert.text
        assert "alerting" in tile_text(browser, "desk-01")[0]
        assert browser.execute_script(
            "return getComputedStyle(arguments[0]).animationName", alert) == "flash"

        # the lead acknowledges it with one click: the desk's LED shows the acknowledgement
        alert.find_element(By.CSS_SELECTOR, "button.ack").click()
        s = desk.wait_state(lambda s: s["led"] == "acked", 10)
        assert s["led"] == "acked"
        wait_for(lambda: not browser.find_elements(By.CSS_SELECTOR, ".alert"), 10,
                 "the alert to stop flashing")
        # the cue passes and the LED shows what the call asks for again
        s = desk.wait_state(lambda s: s["led"] != "acked", 10)
        assert s["led"] == "off"

        # the real desk hangs up; the scripted desk takes a call answered late (five rings)
        desk.desk.send("hook on")
        sim.call(CallScript(rings=5, talk_s=30, hold_s=0))
        wait_for(lambda: "idle" in (tile_text(browser, "desk-01")[0] or ""), 10, "desk-01 idle")
    finally:
        sim.close()

    # both calls are in the floor's record, and the report shows them with the right figures
    store = FloorStore(floor_service.store_path, readonly=True)
    try:
        wait_for(lambda: store.counts()["calls"] == 2, 20, "both calls stored")
        by_desk = {json.loads(r[0])["desk"]: json.loads(r[0]) for r in
                   store._db.execute("SELECT record FROM calls")}
    finally:
        store.close()
    assert by_desk["desk-01"]["rings"] >= 1 and by_desk["desk-01"]["answered_t_s"] is not None
    assert by_desk["desk-02"]["rings"] == 5
    browser.get(floor_service.url + "/report")
    total = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#total td"), 10, "report")
    cells = {td.get_attribute("data-col"): td.text for td in total if td.get_attribute("data-col")}
    assert cells["calls"] == "2" and cells["answered"] == "2"
    assert cells["within_3_rings"] == "1"          # desk-02 took five rings
    assert cells["late_greetings"] == "1"
    assert cells["supervisor_alerts"] == "1"
    rows = {r.find_element(By.TAG_NAME, "td").text: r for r in
            browser.find_elements(By.CSS_SELECTOR, "#table tr") if r.find_elements(By.TAG_NAME, "td")}
    assert "agent 1023" in rows and "agent 2002" in rows
    # the plots are drawn (uPlot canvases), from the package, with no network
    assert len(browser.find_elements(By.CSS_SELECTOR, ".plots canvas")) >= 2


def test_a_real_desk_killed_with_its_outbox_full_delivers_after_restart(broker, floor_service,
                                                                        desk):
    import signal
    import sqlite3

    journal = desk.config_path.replace("deskline.toml", "calls.db")

    def owed():
        db = sqlite3.connect(journal, timeout=10)
        try:
            return db.execute("SELECT kind FROM outbox ORDER BY seq").fetchall()
        finally:
            db.close()

    broker.stop()                                  # the floor's broker is away
    desk.desk.send("ring on")
    desk.desk.send("ring off")
    desk.desk.send("hook off")
    desk.wait_state(lambda s: s["hook"] == "off", 5)
    desk.desk.send("press supervisor")
    desk.desk.send("hook on")
    assert wait_for(lambda: owed() == [("alert",), ("call",)], 15, "the outbox to hold both")
    desk.stop(signal.SIGKILL)                      # kill -9 with the outbox full
    broker.start()
    store = FloorStore(floor_service.store_path, readonly=True)
    try:
        time.sleep(2.0)
        assert store.counts()["calls"] == 0        # nothing can come while the desk is dead
        desk.start()
        wait_for(lambda: store.counts()["calls"] == 1 and store.counts()["alerts"] == 1, 30,
                 "the call and the alert after the restart")
        wait_for(lambda: owed() == [], 15, "the outbox to empty")
        time.sleep(1.0)
        assert store.counts()["calls"] == 1 and store.counts()["alerts"] == 1   # once each
    finally:
        store.close()
