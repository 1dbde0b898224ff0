"""One phrase at a time: priorities, the key-phrase queue, and the ends of cut phrases."""
from deskline.call.events import Play, StopPlayback
from deskline.call.speaker import Speaker

LADDER, GREETING, KEY = 1, 2, 3


def ask(sp, t, phrase, prio):
    return sp.request(t, phrase, prio, ("x",), "why", {})


def test_higher_priority_cuts_lower_never_does():
    sp = Speaker(queue_from=KEY)
    assert [type(a) for a in ask(sp, 0.0, "greeting", GREETING)] == [Play]
    assert ask(sp, 1.0, "greeting_repeat", LADDER) == []          # dropped, not queued
    assert sp.queue == [] and sp.playing.phrase == "greeting"
    acts = ask(sp, 1.5, "thanks", KEY)
    assert [type(a) for a in acts] == [StopPlayback, Play] and sp.playing.phrase == "thanks"


def test_equal_priority_key_phrases_queue_in_order():
    sp = Speaker(queue_from=KEY)
    ask(sp, 0.0, "apology", KEY)
    assert ask(sp, 0.5, "thanks", KEY) == [] and ask(sp, 0.6, "goodbye", KEY) == []
    assert sp.done("apology", 2.0).phrase == "apology"
    req, acts = sp.start_next(2.0)
    assert req.phrase == "thanks" and acts[0].phrase == "thanks"


def test_the_end_of_a_cut_copy_of_the_same_phrase_is_not_the_new_one_s():
    sp = Speaker(queue_from=KEY)
    ask(sp, 0.0, "greeting", GREETING)
    ask(sp, 1.0, "greeting", KEY)                       # the agent's greet key restarts it
    assert sp.done("greeting", 1.0, cut=True) is None   # the end of the cut copy
    assert sp.playing.phrase == "greeting"
    # however late the cut copy's end is reported, it is told apart by what it says
    assert sp.done("greeting", 1.2, cut=True) is None
    assert sp.done("greeting", 4.0).phrase == "greeting"
    assert sp.playing is None


def test_echo_tail_after_the_end():
    sp = Speaker(queue_from=KEY)
    ask(sp, 0.0, "goodbye", KEY)
    assert sp.ours(1.0, 0.3)
    sp.done("goodbye", 2.0)
    assert sp.ours(2.2, 0.3) and not sp.ours(2.31, 0.3)
