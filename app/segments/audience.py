"""Customer lists for ad platforms: Meta Custom Audience and Google Ads Customer Match files.

Pure functions over plain values (no database, no web): normalise each identifier the way the
platform documents, hash what it wants hashed with SHA-256 (hex, lower case), write the CSV with
the platform's column headers. The rules are in docs/segments.md ("Ad audience
files").

``rows`` are mappings with ``email``, ``phone``, ``first_name``, ``last_name``, ``country``
(ISO 3166-1 alpha-2) and ``zip``; any may be missing. A row is written when it has an email, a
phone number, or a whole name and address (first name, last name, country and zip); identical
rows after normalisation are written once, in the order first seen.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

META_HEADER = ("email", "phone", "fn", "ln", "zip", "country")
GOOGLE_HEADER = ("Email", "Phone", "First Name", "Last Name", "Country", "Zip")

# Country calling codes of the countries a national number (one without its country code) is
# understood for. A national number from any other country is refused: it cannot be made E.164.
CALLING_CODES = {
    "US": "1", "CA": "1", "GB": "44", "IE": "353", "DE": "49", "AT": "43", "CH": "41", "LI": "423",
    "FR": "33", "BE": "32", "NL": "31", "LU": "352", "ES": "34", "PT": "351", "IT": "39", "SM": "378",
    "VA": "39", "MT": "356", "DK": "45", "SE": "46", "NO": "47", "FI": "358", "IS": "354", "PL": "48",
    "CZ": "420", "SK": "421", "GR": "30", "AU": "61", "NZ": "64", "JP": "81", "KR": "82", "IN": "91",
    "MX": "52", "ZA": "27", "SG": "65", "HK": "852", "IL": "972", "AE": "971",
}
NANP = frozenset({"US", "CA"})  # North American Numbering Plan: 1 + ten digits
# Where the leading 0 of a national number is part of the number, not a trunk prefix to drop.
KEEPS_LEADING_ZERO = frozenset({"IT", "SM", "VA"})
# Calling codes after which a 0 can only be a trunk prefix written by mistake (+49 030 …): E.164 has
# none. Calling codes are prefix-free, so at most one of them starts a number followed by 0.
_TRUNK_ZERO_CODES = frozenset(code for country, code in CALLING_CODES.items()
                              if country not in KEEPS_LEADING_ZERO and country not in NANP)
_EXTENSION = re.compile(r"(?i)\s*(?:ext\.?|extension|x|#)\s*\d{1,6}\s*$")
_SEPARATORS = re.compile(r"[\s\-.()/]")
_NAME_PREFIXES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof"})
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_GMAIL = frozenset({"gmail.com", "googlemail.com"})


def sha256_hex(value: str) -> str:
    """The SHA-256 digest of the UTF-8 bytes of ``value``, as 64 lower-case hex digits."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalise_email(raw: Any) -> str | None:
    """An email address in lower case without whitespace; None when it is not an address.

    What both platforms ask of every address. Google's extra rule for Gmail is ``google_email``.
    """
    if not isinstance(raw, str):
        return None
    value = "".join(unicodedata.normalize("NFC", raw).lower().split())
    local, at, domain = value.rpartition("@")
    if (not at or not local or "@" in local or "." not in domain
            or domain.startswith(".") or domain.endswith(".") or ".." in domain):
        return None
    return value


def google_email(email: str) -> str:
    """A normalised address as Google hashes it: Gmail addresses without dots and ``+tags``."""
    local, _, domain = email.rpartition("@")
    if domain in _GMAIL:
        local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}"


def normalise_phone(raw: Any, default_country: str | None) -> str | None:
    """A phone number in E.164 (``+`` and up to 15 digits); None when it cannot be made one.

    A number written with ``+`` or ``00`` (``011`` in North America) carries its country code; a
    national number gets the calling code of ``default_country`` (ISO alpha-2, from
    ``CALLING_CODES``), less its trunk prefix 0 (kept in Italy, where it belongs to the number).
    Separators, a ``(0)`` or ``0`` after the country code (``+49 030 …``; not for Italy) and an
    extension (``ext. 12``, ``x12``) are dropped. Not handled: letters (vanity numbers), national
    numbers of countries outside the table, trunk prefixes other than a single 0, and whether a
    number is actually assigned (only lengths are checked).
    """
    if not isinstance(raw, str):
        return None
    value = _EXTENSION.sub("", raw.strip())
    if not value or any(ch.isalpha() for ch in value):
        return None
    international = value.startswith("+") or value.startswith("00")
    if international:
        value = value.replace("(0)", "")
    digits = _SEPARATORS.sub("", value[1:] if value.startswith("+") else value)
    if not digits.isdigit() or not digits.isascii():
        return None
    country = (default_country or "").strip().upper()
    if value.startswith("+"):
        number = _without_trunk_zero(digits)
    elif digits.startswith("00"):
        number = _without_trunk_zero(digits[2:])
    elif digits.startswith("011") and country in NANP:
        number = _without_trunk_zero(digits[3:])
    elif country in NANP:
        national = digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
        if len(national) != 10 or national[0] in "01":
            return None
        number = "1" + national
    elif country in CALLING_CODES:
        national = digits if country in KEEPS_LEADING_ZERO else digits.removeprefix("0")
        number = CALLING_CODES[country] + national
    else:
        return None
    if not 7 <= len(number) <= 15 or number.startswith("0"):
        return None
    if number.startswith("1") and len(number) != 11:  # North America: 1 + ten digits
        return None
    return "+" + number


def _without_trunk_zero(number: str) -> str:
    """An international number less a trunk prefix 0 written after its country code."""
    for code in _TRUNK_ZERO_CODES:
        if number.startswith(code + "0"):
            return code + number[len(code) + 1:]
    return number


def normalise_country(raw: Any) -> str | None:
    """An ISO 3166-1 alpha-2 code in lower case (``de``); None for anything else."""
    if not isinstance(raw, str):
        return None
    value = raw.strip().lower()
    return value if len(value) == 2 and value.isascii() and value.isalpha() else None


def _text(raw: Any) -> str:
    return unicodedata.normalize("NFC", raw).strip().lower() if isinstance(raw, str) else ""


def meta_name(raw: Any) -> str | None:
    """A name as Meta matches it: lower case letters only (accents kept), no spaces or punctuation."""
    value = "".join(ch for ch in _text(raw) if ch.isalpha())
    return value or None


def google_name(raw: Any, *, last: bool = False) -> str | None:
    """A name as Google matches it: lower case, trimmed, without a title (Mrs.) or a suffix (Jr.)."""
    words = _text(raw).split()
    unwanted = _NAME_SUFFIXES if last else _NAME_PREFIXES
    if last:
        while len(words) > 1 and words[-1].rstrip(".,") in unwanted:
            words.pop()
    else:
        while len(words) > 1 and words[0].rstrip(".,") in unwanted:
            words.pop(0)
    return " ".join(words).strip(" ,") or None


def meta_zip(raw: Any, country: str | None) -> str | None:
    """A postal code as Meta matches it: lower case, no spaces; in the US the first five digits."""
    value = "".join(_text(raw).split())
    if country == "us":
        value = value.split("-", 1)[0][:5]
        return value if len(value) == 5 and value.isdigit() else None
    return value or None


def google_zip(raw: Any, country: str | None) -> str | None:
    """A postal code as Google takes it (not hashed): US five digits or ZIP+4, others as written, trimmed."""
    value = " ".join(raw.split()) if isinstance(raw, str) else ""
    if country == "us":
        match = re.fullmatch(r"(\d{5})(?:\s*-\s*(\d{4}))?", value)
        if not match:
            return None
        return match.group(1) + (f"-{match.group(2)}" if match.group(2) else "")
    return value or None


def _csv(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    seen: set[tuple[str, ...]] = set()
    for row in rows:
        if row not in seen:
            seen.add(row)
            writer.writerow(row)
    return out.getvalue()


def _hashed(value: str | None) -> str:
    return sha256_hex(value) if value else ""


def meta_row(row: Mapping[str, Any], default_country: str | None = None) -> tuple[str, ...] | None:
    """One customer as a Meta Custom Audience line (every column hashed); None without an identifier."""
    country = normalise_country(row.get("country"))
    email = normalise_email(row.get("email"))
    phone = normalise_phone(row.get("phone"), country or normalise_country(default_country))
    first, last = meta_name(row.get("first_name")), meta_name(row.get("last_name"))
    zip_code = meta_zip(row.get("zip"), country)
    if not (email or phone or (first and last and country and zip_code)):
        return None
    return (_hashed(email), _hashed(phone[1:] if phone else None), _hashed(first), _hashed(last),
            _hashed(zip_code), _hashed(country))


def google_row(row: Mapping[str, Any], default_country: str | None = None) -> tuple[str, ...] | None:
    """One customer as a Customer Match line (email, phone and names hashed); None without an identifier."""
    country = normalise_country(row.get("country"))
    email = normalise_email(row.get("email"))
    phone = normalise_phone(row.get("phone"), country or normalise_country(default_country))
    first, last = google_name(row.get("first_name")), google_name(row.get("last_name"), last=True)
    zip_code = google_zip(row.get("zip"), country)
    address = bool(first and last and country and zip_code)  # Google matches an address only whole
    if not (email or phone or address):
        return None
    return (_hashed(google_email(email) if email else None), _hashed(phone),
            _hashed(first) if address else "", _hashed(last) if address else "",
            (country or "") if address else "", (zip_code or "") if address else "")


def meta_csv(rows: Iterable[Mapping[str, Any]], default_country: str | None = None) -> str:
    """A Meta customer-list file: ``email,phone,fn,ln,zip,country``, every value SHA-256 hashed."""
    return _csv(META_HEADER, (line for row in rows if (line := meta_row(row, default_country)) is not None))


def google_csv(rows: Iterable[Mapping[str, Any]], default_country: str | None = None) -> str:
    """A Google Ads Customer Match file: email, phone and names hashed, country and zip in clear."""
    return _csv(GOOGLE_HEADER, (line for row in rows if (line := google_row(row, default_country)) is not None))
