"""The desk roles over gpiozero's MockFactory: edges, LED patterns, relays, safe state."""
import pytest
from gpiozero.pins.mock import MockFactory

from deskline.exc import HardwareError
from deskline.hw import fake
from deskline.hw.gpio import make_factory
from deskline.hw.roles import DeskIO, DeskPins


@pytest.fixture
def desk():
    d = fake.open_desk(DeskPins())
    yield d
    d.close()


def drain(desk):
    out = []
    while not desk.edges.empty():
        out.append(desk.edges.get_nowait())
    return out


def test_inputs_are_active_low_and_every_edge_is_queued(desk):
    hook = desk.factory.pin(17)
    assert not desk.hook.active
    hook.drive_low()
    hook.drive_high()
    hook.drive_low()
    edges = drain(desk)
    assert [(e.source, e.active) for e in edges] == [("hook", True), ("hook", False), ("hook", True)]
    assert edges[0].mono_s <= edges[1].mono_s <= edges[2].mono_s
    desk.factory.pin(5).drive_low()
    assert [(e.source, e.active) for e in drain(desk)] == [("key:hold", True)]


def test_outputs_start_low_and_safe_resets_them(desk):
    assert desk.snapshot()["mute"] is False and desk.snapshot()["led"] == "off"
    desk.mute.set(True)
    desk.release.set(True)
    desk.led.show("blink_fast")
    assert desk.factory.pin(23).state and desk.factory.pin(24).state
    desk.safe()
    snap = desk.snapshot()
    assert (snap["mute"], snap["release"], snap["led"], snap["led_lit"]) == (False, False, "off", False)
    assert not desk.factory.pin(23).state and not desk.factory.pin(24).state


def test_led_patterns_blink_with_their_timings(desk):
    desk.led.show("on")
    assert desk.factory.pin(22).state
    desk.led.show("blink_fast")
    import time
    time.sleep(0.6)
    states = desk.factory.pin(22).states
    flips = [s for s in states if s.timestamp > 0]
    assert len(flips) >= 4
    with pytest.raises(HardwareError, match="sparkle"):
        desk.led.show("sparkle")


def test_shared_pin_is_named():
    with pytest.raises(HardwareError, match="GPIO17 is given to both hook and key:hold"):
        DeskIO(DeskPins(keys={"hold": 17}), MockFactory(), "fake")


def test_no_release_relay_is_allowed():
    d = fake.open_desk(DeskPins(line_release=None))
    assert d.release is None
    d.safe()
    assert d.snapshot()["release"] is False
    d.close()


def test_missing_gpio_is_one_line():
    with pytest.raises(HardwareError) as info:
        make_factory("lgpio")
    assert "\n" not in str(info.value) and "GPIO" in str(info.value)
    with pytest.raises(HardwareError, match="unknown pin factory 'pigeon'"):
        make_factory("pigeon")


def test_pins_from_config_leave_out_unfitted_keys():
    from deskline.config import HwConfig

    pins = DeskPins.from_config(HwConfig(line_release_pin=None, supervisor_key_pin=None,
                                         louder_key_pin=21))
    assert pins.line_release is None and "supervisor" not in pins.keys
    assert pins.keys["louder"] == 21 and pins.hook == 17


def test_mock_factory_by_name():
    assert type(make_factory("mock")).__name__ == "MockFactory"


def test_phrase_pad_keys_are_desk_keys_named_by_their_phrase():
    from deskline.config import loads_config

    cfg = loads_config("[hw.phrase_keys]\nwrong_number = 20\njob_number_only = 21\n")
    pins = DeskPins.from_config(cfg.hw)
    assert pins.keys["phrase:wrong_number"] == 20 and pins.keys["phrase:job_number_only"] == 21
    assert pins.keys["hold"] == 5                      # the named keys stay
    d = fake.open_desk(pins)
    try:
        d.factory.pin(20).drive_low()
        assert [(e.source, e.active) for e in drain(d)] == [("key:phrase:wrong_number", True)]
        assert d.snapshot()["keys_down"] == ["phrase:wrong_number"]
    finally:
        d.close()


def test_a_phrase_key_on_a_used_pin_is_refused_by_the_desk_too():
    with pytest.raises(HardwareError, match="GPIO5 is given to both key:hold and key:phrase:x"):
        DeskIO(DeskPins(keys={"hold": 5, "phrase:x": 5}), MockFactory(), "fake")


def test_every_pattern_the_controller_asks_for_is_shown(desk):
    from deskline.call.events import LED_PATTERNS

    for pattern in LED_PATTERNS:
        desk.led.show(pattern)
        assert desk.snapshot()["led"] == pattern
    desk.led.show("off")


def test_supervisor_pattern_flashes_twice_a_beat_and_stops_for_another(desk):
    import time

    pin = desk.factory.pin(22)
    desk.led.show("supervisor")
    time.sleep(2.2)                                  # a beat is 2 s: two flashes in it
    ons = [s for s in pin.states if s.state]
    assert len(ons) >= 3
    desk.led.show("off")
    time.sleep(0.15)
    n = len(pin.states)
    time.sleep(0.3)
    assert len(pin.states) == n and not pin.state    # the cycle is gone, the LED dark


def test_beacon_is_an_optional_output_reset_by_safe():
    from deskline.config import loads_config

    assert DeskPins.from_config(loads_config("").hw).beacon is None
    pins = DeskPins.from_config(loads_config("[hw]\nbeacon_pin = 16\n").hw)
    assert pins.beacon == 16 and pins.all_pins()["beacon"] == 16
    d = fake.open_desk(pins)
    try:
        d.beacon.set(True)
        assert d.snapshot()["beacon"] and d.factory.pin(16).state
        d.safe()
        assert not d.snapshot()["beacon"]
    finally:
        d.close()
    with pytest.raises(HardwareError, match="GPIO22 is given to both mute_led and beacon"):
        DeskIO(DeskPins(beacon=22), MockFactory(), "fake")
