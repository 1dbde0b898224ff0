"""The service's phrase source: assembled in a helper process, handed over once, book otherwise."""
import numpy as np
import pytest

from deskline.commands.run import PreparedPhrases, prepared_phrases
from deskline.config import Config


def test_helper_process_assembles_what_the_book_would(tmp_path):
    cfg = Config.default()
    prepare = [("hold_ask", {}), ("no_such_phrase", {})]
    prepared, errors = prepared_phrases(cfg, prepare, 8000)
    key = ("hold_ask", (), cfg.desk_section.language)
    assert prepared[key].dtype == np.float32 and prepared[key].size > 8000
    assert ("no_such_phrase", (), cfg.desk_section.language) in errors

    calls = []

    def book(phrase, values, lang, rate):
        calls.append(phrase)
        return np.zeros(10)

    src = PreparedPhrases(book, prepared, errors, 8000)
    lang = cfg.desk_section.language
    first = src("hold_ask", {}, lang, 8000)
    assert first.size > 8000 and calls == [] and key not in src.prepared   # handed over once
    assert src("hold_ask", {}, lang, 8000).size == 10 and calls == ["hold_ask"]
    with pytest.raises(RuntimeError, match="no_such_phrase"):
        src("no_such_phrase", {}, lang, 8000)
