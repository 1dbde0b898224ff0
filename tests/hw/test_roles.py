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
