"""The admin's catalogues: every language has every English key with the same placeholders, and
every key a template or page module asks for exists."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest

from app.web.pages import i18n

PAGES = Path(i18n.__file__).resolve().parent
TEMPLATES = PAGES / "templates"
# t('page.key', ...) with a whole key (not a prefix joined to a name: t('layout.nav_' ~ name))
KEY_CALL = re.compile(r"""\bt\(\s*['"]([a-z_]+\.[A-Za-z0-9_]+)['"]\s*[,)]""")


def _placeholders(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name}


def _files(language: str) -> dict[str, dict[str, str]]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((i18n.FOLDER / language).glob("*.json"))}


@pytest.mark.parametrize("language", sorted(set(i18n.LANGUAGES) - {"en"}))
def test_every_language_has_the_english_keys_and_placeholders(language):
    english, other = _files("en"), _files(language)
    assert sorted(other) == sorted(english), "the same page files in every language"
    for page, texts in english.items():
        assert sorted(other[page]) == sorted(texts), f"{language}/{page}.json keys differ from English"
        for key, text in texts.items():
            assert _placeholders(other[page][key]) == _placeholders(text), f"{language}/{page}.json {key}"
            assert other[page][key].strip(), f"{language}/{page}.json {key} is empty"


def test_at_least_two_languages_besides_english():
    assert len(set(i18n.LANGUAGES) - {"en"}) >= 2


def test_every_key_the_templates_use_exists():
    known = set(i18n.catalogue("en"))
    used = set()
    for path in list(TEMPLATES.rglob("*.html")) + list(PAGES.glob("*.py")):
        used |= set(KEY_CALL.findall(path.read_text(encoding="utf-8")))
    missing = sorted(key for key in used if key not in known)
    assert not missing, missing
    assert used, "the templates use the catalogues"


@pytest.mark.parametrize("asked, expected", [("de-DE", "de"), ("fr_CA", "fr"), ("ja,de;q=0.8", "de"), ("", "en"),
                                             (None, "en"), ("xx", "en")])
def test_the_language_is_picked_from_what_the_platform_or_browser_asks(asked, expected):
    assert i18n.pick(asked) == expected
