"""The phrase catalog, its recordings and the playback queue.

- :mod:`.catalog`  — ``sounds/catalog.toml`` and ``sounds/forbidden.toml``, validated
- :mod:`.template` — a phrase as ordered pieces (hotline name, agent number digit by digit …)
- :mod:`.book`     — finding each piece's recording (centre overrides first) and assembling audio
- :mod:`.queue`    — the pure playback queue the live service and the simulator share
- :mod:`.level`    — telephone-ready audio: trim, -26 dBov (P.56), peaks ≤ -3 dBov
- :mod:`.render`   — the default voices with espeak-ng (Mandarin via pinyin)
- :mod:`.check`    — what ``phrases check`` and ``phrases lint`` report
"""
from deskline.phrases.catalog import DESIGN_IDS, Catalog, Forbidden, Phrase, load_catalog
from deskline.phrases.queue import PhraseQueue
from deskline.phrases.template import Piece, phrase_pieces

__all__ = ["DESIGN_IDS", "Catalog", "Forbidden", "Phrase", "Piece", "PhraseQueue", "load_catalog",
           "phrase_pieces"]
