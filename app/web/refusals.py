"""The admin API's refusals in the merchant's language, translated where they leave the app.

Every refusal is written once, in English, where the rule lives (``ProgramError``, ``FlowError``,
``error_response(422, ...)`` …), and the API's clients other than the admin pages read it so.
Rather than thread a language through every rule, the admin pages say theirs in an
``X-Comeback-Language`` header, and one ``after_request`` hook rewrites the ``"error"`` of a 4xx
answer under ``/api/admin`` through ``i18n/<language>/refusals.json``: the English value of each
key is the exact English message with its variable parts (field paths, limits, ids) as
``{name}`` placeholders, matched as a whole; the other languages put the same values in their
own sentence. A message no template matches stays English: a refusal in English beats none.
"""

from __future__ import annotations

import functools
import json
import re
import string
from collections.abc import Mapping

from flask import Response, current_app, request

from app.web.pages import i18n

HEADER = "X-Comeback-Language"
FILE = "refusals.json"
# Longer messages (they may echo what a client sent) are left as they are: matching a long text
# against every template's lazy groups costs time that grows with its length.
MAX_LENGTH = 1000


@functools.cache
def templates(language: str) -> Mapping[str, str]:
    """The language's refusal templates by key (empty for a language without the file)."""
    path = i18n.FOLDER / language / FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _pattern(template: str) -> tuple[re.Pattern[str], int]:
    """An anchored regex for an English template and how much literal text it pins down.

    ``string.Formatter`` reads the template the way ``str.format`` writes it, so doubled braces
    are literal braces here too.
    """
    parts, literal = [], 0
    for text, name, _spec, _conversion in string.Formatter().parse(template):
        parts.append(re.escape(text))
        literal += len(text)
        if name is not None:
            parts.append(f"(?P<{name}>.+?)")
    return re.compile("".join(parts) + r"\Z", re.DOTALL), literal


@functools.cache
def _matchers() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Every English template as ``(key, pattern)``, most literal text first: the most specific wins."""
    compiled = [(key, *_pattern(text)) for key, text in templates(i18n.DEFAULT).items()]
    compiled.sort(key=lambda item: (-item[2], item[0]))
    return tuple((key, pattern) for key, pattern, _literal in compiled)


def translate(message: str, language: str, *, nested: bool = True) -> str:
    """``message`` in ``language``: the matching template's sentence with the message's values.

    A captured value that is itself a whole refusal (``the step cannot be shown: <reason>``) is
    translated too, one level deep. English, a language without refusals, a message longer than
    ``MAX_LENGTH`` or one no template matches: the message unchanged.
    """
    if language == i18n.DEFAULT or language not in i18n.LANGUAGES or len(message) > MAX_LENGTH:
        return message
    target = templates(language)
    for key, pattern in _matchers():
        found = pattern.match(message)
        if found is None or key not in target:
            continue
        values = {name: translate(value, language, nested=False) if nested else value
                  for name, value in found.groupdict().items()}
        return target[key].format(**values)
    return message


def translate_response(response: Response) -> Response:
    """An admin API refusal's ``"error"`` in the language the page asked for; the body otherwise as it was."""
    if (not request.path.startswith("/api/admin") or not 400 <= response.status_code < 500
            or not response.is_json or response.is_streamed):
        return response
    language = i18n.pick(request.headers.get(HEADER))
    if language == i18n.DEFAULT:
        return response
    body = response.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return response
    translated = translate(body["error"], language)
    if translated != body["error"]:
        body["error"] = translated
        response.set_data(current_app.json.dumps(body) + "\n")
    return response
