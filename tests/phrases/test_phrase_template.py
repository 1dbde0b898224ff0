"""Templated phrases as pieces: hotline name, agent number digit by digit (1 is 幺), counts."""
import pytest

from deskline.exc import CatalogError
from deskline.phrases.catalog import load_catalog
from deskline.phrases.template import (CLAUSE_GAP_S, count_pieces, digit_pieces, fixed_pieces,
                                       phrase_pieces, shared_pieces, spoken_text)


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def keys(pieces):
    return [p.key for p in pieces]


def test_greeting_agent_1_reads_yao(cat):
    pieces = phrase_pieces(cat, "greeting", {"hotline_name": "榆林市残疾人服务热线", "agent_no": "1"})
    assert keys(pieces) == ["greeting.1", "_hotline_name", "_digit.1", "greeting.2"]
    assert [p.text for p in pieces][:3] == ["您好，这里是", "榆林市残疾人服务热线", "幺"]
    assert spoken_text(pieces, "zh") == ("您好，这里是榆林市残疾人服务热线，幺号话务员为您服务，"
                                         "请问有什么可以帮助您的？").replace("，幺", "幺")
    assert pieces[2].gap_before_s == CLAUSE_GAP_S["zh"]  # the comma after the hotline name


def test_agent_number_digit_by_digit(cat):
    pieces = phrase_pieces(cat, "job_number_only", {"agent_no": "1071"})
    assert keys(pieces) == ["job_number_only.1", "_digit.1", "_digit.0", "_digit.7", "_digit.1",
                            "job_number_only.2"]
    assert "".join(p.text for p in pieces[1:5]) == "幺零七幺"
    en = phrase_pieces(cat, "job_number_only", {"agent_no": "1071"}, "en")
    assert [p.text for p in en[1:5]] == ["one", "zero", "seven", "one"]


def test_english_order_follows_the_english_text(cat):
    pieces = phrase_pieces(cat, "callback_intro",
                           {"title": "madam", "hotline_name": "Yulin hotline", "agent_no": "3"}, "en")
    assert keys(pieces) == ["callback_intro.1", "_title.madam", "callback_intro.2", "_digit.3",
                            "callback_intro.3", "_hotline_name"]  # the final "." is a pause, not a piece


@pytest.mark.parametrize("n,zh,en", [
    (1, ["一"], ["one"]), (2, ["两"], ["two"]), (5, ["五"], ["five"]), (10, ["十"], ["ten"]),
    (15, ["十", "五"], ["fifteen"]), (24, ["二", "十", "四"], ["twenty", "four"]),
    (48, ["四", "十", "八"], ["forty", "eight"]), (90, ["九", "十"], ["ninety"]),
])
def test_counts(n, zh, en):
    assert [p.text for p in count_pieces(n, "zh")] == zh
    assert [p.text for p in count_pieces(n, "en")] == en


def test_complaint_deadline_days(cat):
    pieces = phrase_pieces(cat, "complaint_deadline", {"title": "sir", "days": "15"})
    assert keys(pieces) == ["complaint_deadline.1", "_title.sir", "complaint_deadline.2",
                            "_num.10", "_num.5", "complaint_deadline.3"]
    assert pieces[1].text == "先生"


def test_untemplated_phrase_is_one_piece(cat):
    assert keys(phrase_pieces(cat, "hold_ask")) == ["hold_ask"]
    assert keys(fixed_pieces(cat["hold_ask"], "en")) == ["hold_ask"]


def test_every_piece_a_value_can_need_is_shipped_as_shared():
    for lang in ("zh", "en"):
        have = set(keys(shared_pieces(lang)))
        for n in range(1, 100):
            assert set(keys(count_pieces(n, lang))) <= have
        assert set(keys(digit_pieces("01234", lang) + digit_pieces("56789", lang))) <= have


@pytest.mark.parametrize("pid,values,problem", [
    ("greeting", {"hotline_name": "热线"}, "no value for template field 'agent_no'"),
    ("greeting", {"hotline_name": "热线", "agent_no": "1a"}, "agent_no"),
    ("hold_ask", {"colour": 3}, "unknown template field 'colour'"),
    ("complaint_deadline", {"title": "sir", "days": 0}, "days"),
    ("complaint_deadline", {"title": "boss", "days": 5}, "title"),
    ("greeting", {"hotline_name": " ", "agent_no": "1"}, "hotline name is empty"),
])
def test_bad_values_refused(cat, pid, values, problem):
    with pytest.raises(CatalogError, match=problem) as err:
        phrase_pieces(cat, pid, values)
    assert pid in str(err.value)


def test_unknown_id_refused(cat):
    with pytest.raises(CatalogError, match="no phrase with id 'greting'"):
        phrase_pieces(cat, "greting")


def test_defaults_optional_title_and_desk_values(cat):
    desk = {"hotline_name": "热线", "agent_no": "1"}          # what the controller gives a pad phrase
    assert keys(phrase_pieces(cat, "hold_ask_lookup", desk)) == ["hold_ask_lookup"]
    pieces = phrase_pieces(cat, "complaint_deadline", desk)    # days from the catalog default
    assert keys(pieces) == ["complaint_deadline.1", "complaint_deadline.2", "_num.5",
                            "complaint_deadline.3"]
    assert spoken_text(pieces, "zh").startswith("很抱歉，多谢您") and "五日之内" in spoken_text(pieces, "zh")
    assert spoken_text(phrase_pieces(cat, "complaint_deadline", {}, "en"), "en").startswith(
        "We are sorry, and thank you")
    assert cat["complaint_deadline"].defaults == {"days": 5}
    assert keys(phrase_pieces(cat, "ask_surname")) == ["ask_surname.1"]   # no title: left out
    assert keys(phrase_pieces(cat, "ask_surname", {"title": "madam"})) == ["_title.madam", "ask_surname.1"]
    assert [p.text for p in phrase_pieces(cat, "callback_within_minutes", {"minutes": 2})][1] == "两"


@pytest.mark.parametrize("pid,field,one,many", [
    ("complaint_deadline", "days", "within one day. Goodbye!", "within five days. Goodbye!"),
    ("complaint_deadline_hours", "hours", "within one hour. Goodbye!", "within two hours. Goodbye!"),
    ("supervisor_request_record", "hours", "within one hour.", "within forty eight hours."),
    ("callback_promise_gov", "hours", "within one hour, all right?", "within twenty four hours, all right?"),
    ("callback_within_minutes", "minutes", "within one minute.", "within ten minutes."),
    ("contact_staff_callback", "minutes", "within one minute.", "within ten minutes."),
])
def test_english_count_of_one_is_singular(cat, pid, field, one, many):
    pieces = phrase_pieces(cat, pid, {field: 1}, "en")
    assert spoken_text(pieces, "en").endswith(one)
    assert pieces[-1].key.endswith(".one") and pieces[-2].key == "_num.1"
    assert pieces[-1].key in keys(fixed_pieces(cat[pid], "en"))   # rendered and shipped
    assert spoken_text(phrase_pieces(cat, pid, {}, "en"), "en").endswith(many)   # catalog default
    assert spoken_text(phrase_pieces(cat, pid, {field: "1"}, "en"), "en").endswith(one)
    for n in (11, 21):     # eleven days, twenty one days: plural
        assert not phrase_pieces(cat, pid, {field: n}, "en")[-1].key.endswith(".one")


def test_mandarin_count_of_one_has_no_singular(cat):
    pieces = phrase_pieces(cat, "complaint_deadline_hours", {"hours": 1})
    assert keys(pieces)[-2:] == ["_num.1", "complaint_deadline_hours.3"]
    assert "一小时之内" in spoken_text(pieces, "zh")
    assert not any(p.key.endswith(".one") for p in fixed_pieces(cat["complaint_deadline_hours"], "zh"))
