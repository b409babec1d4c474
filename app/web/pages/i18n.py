"""The admin's words in each language: one JSON catalogue per page and language.

``i18n/<language>/<page>.json`` maps keys to text with ``{name}`` placeholders. Every language
has the same keys and placeholders as English (a test holds them to it); a key missing from a
language falls back to English rather than showing the key.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path

from markupsafe import Markup, escape

FOLDER = Path(__file__).resolve().parent / "i18n"
LANGUAGES = {"en": "English", "de": "Deutsch", "fr": "Français"}
DEFAULT = "en"


@functools.cache
def catalogue(language: str) -> Mapping[str, str]:
    """Every key of ``language``, page files merged (``page.key``)."""
    merged: dict[str, str] = {}
    for path in sorted((FOLDER / language).glob("*.json")):
        page = path.stem
        for key, text in json.loads(path.read_text(encoding="utf-8")).items():
            merged[f"{page}.{key}"] = text
    return merged


def pick(*candidates: str | None) -> str:
    """The first supported language among ``candidates`` (``de-DE``, ``fr_CA``, ``de`` …)."""
    for candidate in candidates:
        if not candidate:
            continue
        for part in candidate.replace("_", "-").split(","):
            code = part.split(";")[0].strip().split("-")[0].lower()
            if code in LANGUAGES:
                return code
    return DEFAULT


def translate(language: str, key: str, **values: object) -> str:
    """The text of ``key`` in ``language`` with ``values`` filled in; a ``KeyError`` for an unknown key."""
    text = catalogue(language).get(key)
    if text is None:
        text = catalogue(DEFAULT)[key]
    return text.format(**values) if values else text


def translator(language: str):
    """``t(key, **values)`` for templates: escaped values, the catalogue's own markup kept."""

    def t(key: str, **values: object) -> Markup:
        return Markup(translate(language, key, **{name: escape(value) for name, value in values.items()}))

    return t
