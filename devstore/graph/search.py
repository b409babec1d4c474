"""Shopify search syntax (`updated_at:>'2026-01-01T00:00:00Z' email:x`) as predicates."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..formats import parse_gid, parse_time

log = logging.getLogger(__name__)

# A quoted value may hold its quote and backslashes escaped with a backslash.
TERM_RE = re.compile(
    r"""(?P<neg>-)?(?:(?P<field>[a-z_]+):(?P<op><=|>=|<|>|=)?)?"""
    r"""(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s]+)""")
_ESCAPE_RE = re.compile(r"\\(.)")
TIME_FIELDS = {"updated_at", "created_at", "processed_at", "completed_at"}


@dataclass(frozen=True)
class Term:
    """One `field:op value` condition."""

    field: Optional[str]
    op: str
    value: str
    negated: bool = False


def parse(query: Optional[str]) -> list[Term]:
    """Split a search string into terms, ignoring AND connectives."""
    terms: list[Term] = []
    for match in TERM_RE.finditer(query or ""):
        value = match.group("value")
        if match.group("field") is None and value.upper() in ("AND", "OR"):
            continue
        if value[:1] in "'\"" and value[-1:] == value[:1] and len(value) >= 2:
            value = _ESCAPE_RE.sub(r"\1", value[1:-1])
        terms.append(Term(match.group("field"), match.group("op") or "=", value,
                          bool(match.group("neg"))))
    return terms


def _compare(op: str, left: Any, right: Any) -> bool:
    """Apply a comparison operator."""
    if left is None:
        return False
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    return left == right


def _coerce(field: str, value: str) -> Any:
    """Convert a term value for comparison with the object attribute."""
    if field in TIME_FIELDS:
        return parse_time(value)
    if field == "id":
        parsed = parse_gid(value)
        return parsed[1] if parsed else int(value)
    return value.lower()


def build(terms: list[Term], extractors: dict[str, Callable[[Any], Any]],
          text: Callable[[Any], str]) -> Optional[Callable[[Any], bool]]:
    """Compile terms into a predicate over store objects (None when unrestricted)."""
    checks: list[Callable[[Any], bool]] = []
    for term in terms:
        if term.field is None:
            needle = term.value.lower()
            check = (lambda n: lambda o: n in text(o).lower())(needle)
        elif term.field in extractors:
            try:
                target = _coerce(term.field, term.value)
            except ValueError:
                log.info("ignoring unparsable search term %s", term)
                continue
            getter = extractors[term.field]
            if isinstance(target, str):
                check = (lambda g, t: lambda o: str(g(o) or "").lower() == t)(getter, target)
            else:
                check = (lambda g, op, t: lambda o: _compare(op, g(o), t))(getter, term.op, target)
        else:
            log.info("ignoring unsupported search field %s", term.field)
            continue
        checks.append((lambda c: lambda o: not c(o))(check) if term.negated else check)
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda o: all(c(o) for c in checks)


def bounds(terms: list[Term], field: str) -> tuple[Optional[int], Optional[int]]:
    """Return [low, high) epoch bounds that terms put on a time field."""
    low: Optional[int] = None
    high: Optional[int] = None
    for term in terms:
        if term.field != field or term.negated or term.op == "=":
            continue
        try:
            value = parse_time(term.value)
        except ValueError:
            continue
        if term.op in (">", ">="):
            candidate = value + 1 if term.op == ">" else value
            low = candidate if low is None else max(low, candidate)
        else:
            candidate = value if term.op == "<" else value + 1
            high = candidate if high is None else min(high, candidate)
    return low, high
