"""Loading and validating the phrase catalog (``sounds/catalog.toml``) and the forbidden list.

The catalog is the contract between the standard (the seeds), the controller (which asks for
phrases by id) and the recordings (one file per id and language, or per template piece). A
catalog that is wrong in any way is refused with a :class:`~deskline.exc.CatalogError` whose
one-line message names the file, the id and the problem.
"""
from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from deskline.exc import CatalogError

log = logging.getLogger(__name__)

#: The languages phrases are spoken in, as the catalog keys them (``text_zh``, ``text_en``).
LANGS = ("zh", "en")
#: Directory names of the recordings for each language (``sounds/zh-CN/``, ``sounds/en/``).
LANG_DIRS = MappingProxyType({"zh": "zh-CN", "en": "en"})
#: Sample rate of the shipped recordings and of assembled phrase audio before resampling, Hz
#: (wideband; the line path decimates to 8 kHz).
RATE_HZ = 16000
#: Who asks for a phrase.
TRIGGERS = ("controller", "key", "pad")
#: Kinds of template field: how a value is spoken.
FIELD_KINDS = ("name", "digits", "count", "title")
#: English words a ``count`` field may be followed by, plural → singular: the words right after
#: the field are recorded both ways so that a count of 1 is said in the singular ("within 1 hour").
EN_COUNT_UNITS = MappingProxyType({"days": "day", "hours": "hour", "minutes": "minute",
                                   "seconds": "second", "weeks": "week", "months": "month",
                                   "years": "year", "times": "time"})
#: The ids DESIGN.md §4 names; the controller relies on every one of them.
DESIGN_IDS = (
    "greeting", "greeting_late", "greeting_repeat", "no_sound_goodbye", "speak_louder",
    "switch_phone_quiet", "too_noisy_goodbye", "pick_up_handset", "can_you_hear_me", "hold_ask",
    "hold_resume", "anything_else", "goodbye", "hanging_up", "not_in_scope",
)

_REQUIRED = ("id", "situation_zh", "situation_en", "text_zh", "text_en", "fields", "trigger",
             "source")
_OPTIONAL = ("variant_of", "defaults")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELD_RE = re.compile(r"\{([^{}]*)\}")
_SOURCE_RE = re.compile(r"^\d{3}:[A-Za-z0-9.]+$")
_FORBIDDEN_KEYS = ("id", "text_zh", "text_en", "match", "source")
_EN_AFTER_FIELD = re.compile(r"\{([^{}]*)\}\s*([A-Za-z]*)")


def norm_lang(lang: str) -> str:
    """The catalog's language key (``zh`` or ``en``) for ``zh``, ``zh-CN``, ``cmn`` or ``en``."""
    low = (lang or "").strip().lower()
    if low in ("zh", "zh-cn", "zh_cn", "cmn"):
        return "zh"
    if low.startswith("en"):
        return "en"
    raise CatalogError(f"unknown language {lang!r} (use zh or en)")


def default_sounds_dir(package_dir: str | os.PathLike | None = None) -> Path:
    """Where the catalog and the default recordings are: installed copy, else the source tree.

    ``$DESKLINE_SOUNDS`` wins when set. An installed package carries them as
    ``deskline/sounds/``; a source checkout (editable install) has them at the repository's
    top level, next to ``firmware/``. ``package_dir`` is the ``deskline`` package directory
    (default: this one).
    """
    env = os.environ.get("DESKLINE_SOUNDS")
    if env:
        return Path(env)
    pkg = Path(package_dir) if package_dir is not None else Path(__file__).resolve().parents[1]
    for cand in (pkg / "sounds", pkg.parents[1] / "sounds"):
        if (cand / "catalog.toml").is_file():
            return cand
    raise CatalogError(f"{pkg / 'sounds' / 'catalog.toml'}: the phrase catalog is not installed")


@dataclass(frozen=True)
class Phrase:
    """One standard phrase: what it is for, its words in each language, its template fields."""

    id: str
    situation_zh: str
    situation_en: str
    text_zh: str
    text_en: str
    fields: tuple[str, ...]
    trigger: str
    source: tuple[str, ...]
    variant_of: str | None = None
    defaults: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    def text(self, lang: str) -> str:
        """The wording in ``lang`` (``zh`` / ``en``), template fields still in braces."""
        return self.text_zh if norm_lang(lang) == "zh" else self.text_en

    def situation(self, lang: str) -> str:
        """The situation it serves, in ``lang``."""
        return self.situation_zh if norm_lang(lang) == "zh" else self.situation_en

    @property
    def templated(self) -> bool:
        return bool(self.fields)


@dataclass(frozen=True)
class Forbidden:
    """One forbidden expression (服务忌语): never to be said, flagged by ``phrases lint``."""

    id: str
    text_zh: str
    text_en: str
    match: str  # "substring" or "clause"
    source: tuple[str, ...]

    def text(self, lang: str) -> str:
        return self.text_zh if norm_lang(lang) == "zh" else self.text_en


@dataclass(frozen=True)
class Catalog:
    """The whole phrase book as loaded: phrases by id, field kinds, seed coverage, forbidden list."""

    path: str
    phrases: Mapping[str, Phrase]
    field_kinds: Mapping[str, str]
    seeds: Mapping[str, tuple[str, ...]]
    unspoken: Mapping[str, str]
    forbidden: tuple[Forbidden, ...] = ()

    def __getitem__(self, phrase_id: str) -> Phrase:
        try:
            return self.phrases[phrase_id]
        except KeyError:
            raise CatalogError(f"{self.path}: no phrase with id {phrase_id!r}") from None

    def __contains__(self, phrase_id: object) -> bool:
        return phrase_id in self.phrases

    def __iter__(self):
        return iter(self.phrases.values())

    def __len__(self) -> int:
        return len(self.phrases)

    def coverage(self) -> dict[str, tuple[int, int, int]]:
        """Per seed: (items with a phrase, items without wording a device can say, all items)."""
        used = {s for p in self.phrases.values() for s in p.source}
        out = {}
        for seed, items in self.seeds.items():
            keys = [f"{seed}:{i}" for i in items]
            spoken = sum(k in used for k in keys)
            silent = sum(k in self.unspoken and k not in used for k in keys)
            out[seed] = (spoken, silent, len(keys))
        return out


def template_fields(text: str) -> list[str]:
    """The template field names used in ``text``, in order (``{hotline_name}`` → hotline_name)."""
    return _FIELD_RE.findall(text)


def _str_tuple(value, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def _load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise CatalogError(f"{path}: no such file") from None
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise CatalogError(f"{path}:{line}: not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise CatalogError(f"{path}: not valid TOML (arrays or tables nested too deeply)") from None


def _phrase(entry, index: int, path: Path, kinds: Mapping[str, str]) -> Phrase:
    if not isinstance(entry, dict):
        raise CatalogError(f"{path}: phrase #{index} is not a table")
    pid = entry.get("id")
    where = f"{path}: {pid if isinstance(pid, str) else f'phrase #{index}'}"
    for key in _REQUIRED:
        if key not in entry:
            raise CatalogError(f"{where}: missing field {key!r}")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise CatalogError(f"{where}: unknown key {unknown[0]!r}")
    for key in ("id", "situation_zh", "situation_en", "text_zh", "text_en", "trigger"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise CatalogError(f"{where}: {key} must be a non-empty string")
    if not _ID_RE.match(pid):
        raise CatalogError(f"{where}: id must be lower_snake_case ascii")
    if entry["trigger"] not in TRIGGERS:
        raise CatalogError(f"{where}: trigger {entry['trigger']!r} is not one of {', '.join(TRIGGERS)}")
    fields = _str_tuple(entry["fields"], where, "fields")
    for f in fields:
        if f not in kinds:
            raise CatalogError(f"{where}: unknown template field {f!r} in fields")
    for lang in LANGS:
        used = template_fields(entry[f"text_{lang}"])
        for f in used:
            if f not in kinds:
                raise CatalogError(f"{where}: unknown template field {{{f}}} in text_{lang}")
        if set(used) != set(fields):
            raise CatalogError(
                f"{where}: text_{lang} uses fields {sorted(set(used))} but fields lists {sorted(fields)}")
        if len(used) != len(set(used)):
            raise CatalogError(f"{where}: text_{lang} uses a template field twice")
    for f, word in _EN_AFTER_FIELD.findall(entry["text_en"]):
        if kinds.get(f) == "count" and word not in EN_COUNT_UNITS:
            raise CatalogError(
                f"{where}: text_en: {{{f}}} must be followed by the unit it counts, one of "
                f"{', '.join(EN_COUNT_UNITS)} (so that 1 is said in the singular)")
    source = _str_tuple(entry["source"], where, "source")
    if not source:
        raise CatalogError(f"{where}: source is empty")
    for s in source:
        if not _SOURCE_RE.match(s):
            raise CatalogError(f"{where}: source {s!r} is not SEED:ITEM")
    variant = entry.get("variant_of")
    if variant is not None and not isinstance(variant, str):
        raise CatalogError(f"{where}: variant_of must be a phrase id")
    defaults = entry.get("defaults", {})
    if not isinstance(defaults, dict):
        raise CatalogError(f"{where}: defaults must be a table of field = value")
    for f, v in defaults.items():
        if f not in fields:
            raise CatalogError(f"{where}: default for {f!r}, which the phrase does not use")
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise CatalogError(f"{where}: default for {f!r} must be a number or a string")
    return Phrase(id=pid, situation_zh=entry["situation_zh"], situation_en=entry["situation_en"],
                  text_zh=entry["text_zh"], text_en=entry["text_en"], fields=fields,
                  trigger=entry["trigger"], source=source, variant_of=variant,
                  defaults=MappingProxyType(dict(defaults)))


def load_forbidden(path: str | os.PathLike) -> tuple[Forbidden, ...]:
    """Read the forbidden-expressions table (``[[forbidden]]`` entries) from ``path``."""
    path = Path(path)
    data = _load_toml(path)
    out, seen = [], set()
    for i, entry in enumerate(data.get("forbidden", []), 1):
        fid = entry.get("id") if isinstance(entry, dict) else None
        where = f"{path}: {fid if isinstance(fid, str) else f'forbidden #{i}'}"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: not a table")
        for key in _FORBIDDEN_KEYS:
            if key not in entry:
                raise CatalogError(f"{where}: missing field {key!r}")
        unknown = sorted(set(entry) - set(_FORBIDDEN_KEYS))
        if unknown:
            raise CatalogError(f"{where}: unknown key {unknown[0]!r}")
        if fid in seen:
            raise CatalogError(f"{where}: duplicate id")
        seen.add(fid)
        if entry["match"] not in ("substring", "clause"):
            raise CatalogError(f"{where}: match must be 'substring' or 'clause'")
        for key in ("text_zh", "text_en"):
            if not isinstance(entry[key], str) or not entry[key].strip():
                raise CatalogError(f"{where}: {key} must be a non-empty string")
        out.append(Forbidden(id=fid, text_zh=entry["text_zh"], text_en=entry["text_en"],
                             match=entry["match"], source=_str_tuple(entry["source"], where, "source")))
    if not out:
        raise CatalogError(f"{path}: no [[forbidden]] entries")
    return tuple(out)


def load_catalog(path: str | os.PathLike | None = None, *,
                 forbidden_path: str | os.PathLike | None = None) -> Catalog:
    """Load and validate a catalog; the default is the shipped ``sounds/catalog.toml``.

    The forbidden list is read from ``forbidden_path``, else from ``forbidden.toml`` beside the
    catalog when it exists. Raises :class:`CatalogError` (file, id, problem) on a duplicate id,
    a missing or unknown key, an unknown template field, a text whose fields differ from its
    ``fields`` list, or a ``variant_of`` naming no phrase.
    """
    path = Path(path) if path is not None else default_sounds_dir() / "catalog.toml"
    data = _load_toml(path)
    raw_kinds = data.get("fields", {})
    if not isinstance(raw_kinds, dict):
        raise CatalogError(f"{path}: [fields] must be a table of field = kind")
    for name, kind in raw_kinds.items():
        if kind not in FIELD_KINDS:
            raise CatalogError(f"{path}: field {name!r} has unknown kind {kind!r}")
    kinds = MappingProxyType(dict(raw_kinds))
    entries = data.get("phrase")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{path}: no [[phrase]] entries")
    phrases: dict[str, Phrase] = {}
    for i, entry in enumerate(entries, 1):
        p = _phrase(entry, i, path, kinds)
        if p.id in phrases:
            raise CatalogError(f"{path}: {p.id}: duplicate id")
        phrases[p.id] = p
    for p in phrases.values():
        if p.variant_of is not None and p.variant_of not in phrases:
            raise CatalogError(f"{path}: {p.id}: variant_of {p.variant_of!r} names no phrase")
    seeds = {str(k): _str_tuple(v, f"{path}: seeds", str(k)) for k, v in data.get("seeds", {}).items()}
    unspoken = {}
    for u in data.get("unspoken", []):
        if not isinstance(u, dict) or not isinstance(u.get("source"), str) \
                or not isinstance(u.get("reason"), str):
            raise CatalogError(f"{path}: [[unspoken]] entries need a source and a reason")
        unspoken[u["source"]] = u["reason"]
    if forbidden_path is None:
        cand = path.with_name("forbidden.toml")
        forbidden = load_forbidden(cand) if cand.is_file() else ()
    else:
        forbidden = load_forbidden(forbidden_path)
    log.debug("catalog %s: %d phrases, %d forbidden expressions", path, len(phrases), len(forbidden))
    return Catalog(path=str(path), phrases=MappingProxyType(phrases), field_kinds=kinds,
                   seeds=MappingProxyType(seeds), unspoken=MappingProxyType(unspoken),
                   forbidden=forbidden)
