"""The fixed texts of the email templates, one catalogue per language (``<language>.json``).

Each catalogue maps a message id (``cart.heading``) to its text, with named ``str.format``
placeholders (``"You left something behind, {name}"``). All catalogues hold the same ids, and a
text names the same placeholders in every language (``tests/messaging/test_translations.py``
checks both, and that every id a template or ``render`` uses exists). Templates look texts up
with ``t("cart.heading", name=first_name)``; see ``render.render``.
"""

from __future__ import annotations

import functools
import json
import string
from pathlib import Path

LANGUAGES = ("en", "de", "fr", "es")
DEFAULT = "en"
_DIRECTORY = Path(__file__).parent
# Ids ``render`` itself uses (dates and the name of a customer it does not know).
MONTH_KEYS = tuple(f"date.month.{n}" for n in range(1, 13))
CODE_KEYS = ("name.unknown", "date.format", "date.day.1", *MONTH_KEYS)


class TranslationError(ValueError):
    """An unknown language, an id a catalogue lacks, or a text given the wrong values."""


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """The texts of a language, by id."""
    if language not in LANGUAGES:
        raise TranslationError(f"unknown language {language!r} (known: {', '.join(LANGUAGES)})")
    with (_DIRECTORY / f"{language}.json").open(encoding="utf-8") as file:
        texts = json.load(file)
    if not isinstance(texts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in texts.items()):
        raise TranslationError(f"{language}.json must be an object of texts")
    return texts


def text(language: str, key: str) -> str:
    """The text of ``key`` in ``language``, placeholders not filled in."""
    texts = catalogue(language)
    if key not in texts:
        raise TranslationError(f"no text {key!r} in the {language} catalogue")
    return texts[key]


def translate(language: str, key: str, **values: object) -> str:
    """The text of ``key`` in ``language`` with its placeholders filled in."""
    try:
        return text(language, key).format(**values)
    except (KeyError, IndexError) as error:
        raise TranslationError(f"{language} text {key!r} needs the value {error}") from None


def placeholders(value: str) -> set[str]:
    """The names a text fills in: ``"{name}, hi {shop_name}"`` gives ``{"name", "shop_name"}``."""
    return {field for _, field, _, _ in string.Formatter().parse(value) if field is not None}
