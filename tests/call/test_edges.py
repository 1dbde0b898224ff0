"""GPIO edges to controller events through the desk's input interpreter (known edge sequences)."""
from deskline.call.events import Flash, Hook, Key, Ring
from deskline.call.edges import EdgeInterpreter


def run(edges, until_s, step_s=0.005):
    ei = EdgeInterpreter(hook_debounce_s=0.03, key_debounce_s=0.03, flash_min_s=0.1,
                         flash_max_s=0.6, ring_min_s=0.1, ring_off_s=0.5)
    out, edges = [], sorted(edges, key=lambda e: e[2])
    t = 0.0
    while t <= until_s:
        while edges and edges[0][2] <= t:
            out += ei.feed(*edges.pop(0))
        out += ei.poll(t)
        t = round(t + step_s, 6)
    return out


def test_chatter_gives_one_off_hook_then_flash_then_hang_up():
    chatter = [("hook", i % 2 == 0, 1.0 + 0.001 * i) for i in range(11)]  # settles off at 1.010
    edges = chatter + [("hook", False, 3.0), ("hook", True, 3.3), ("hook", False, 6.0)]
    assert run(edges, 8.0) == [Hook(1.010, True), Flash(3.0), Hook(6.0, False)]


def test_key_chatter_is_one_press_and_a_glitch_is_none():
    edges = [("key:hold", True, 1.0), ("key:hold", False, 1.002), ("key:hold", True, 1.004),
             ("key:hold", False, 1.2), ("key:greet", True, 2.0), ("key:greet", False, 2.01)]
    assert run(edges, 3.0) == [Key(1.004, "hold")]


def test_ring_bursts():
    edges = [("ring", True, 0.0), ("ring", False, 1.0), ("ring", True, 5.0), ("ring", False, 6.0)]
    assert run(edges, 7.0) == [Ring(0.0), Ring(5.0)]


def test_from_config_uses_the_hw_section():
    from deskline.config import HwConfig

    ei = EdgeInterpreter.from_config(HwConfig(key_debounce_s=0.2))
    assert ei.key_debounce_s == 0.2 and ei.hook.flash_max_s == HwConfig().flash_max_s


def test_a_phrase_pad_key_keeps_its_whole_name():
    edges = [("key:phrase:wrong_number", True, 1.0), ("key:phrase:wrong_number", False, 1.001),
             ("key:phrase:wrong_number", True, 1.002), ("key:phrase:wrong_number", False, 1.3)]
    assert run(edges, 2.0) == [Key(1.002, "phrase:wrong_number")]
