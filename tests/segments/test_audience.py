"""Meta Custom Audience and Google Customer Match files: normalisation, hashing, rows and CSV.

Expected values follow the platforms' documentation: Meta's customer-list rules (email trimmed and
lower case; phone digits with the country code, no ``+`` or leading zeros; names lower case letters,
UTF-8 accents allowed; zip lower case without spaces, US five digits; country ISO alpha-2 lower case;
everything SHA-256) and Google's Customer Match / Data Manager rules (Gmail and googlemail addresses
without dots and ``+tags``; phone E.164 with the ``+``; names lower case without titles or suffixes;
country and zip in clear, US zip five digits or ZIP+4; headers Email, Phone, First Name, Last Name,
Country, Zip). Every expected digest is computed here with hashlib, not with the module.
"""

from __future__ import annotations

import csv
import hashlib
import io

import pytest

from app.segments import audience


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _lines(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- hashing -------------------------------------------------------------------------------------

def test_sha256_hex_is_the_lower_case_hex_digest_of_the_utf8_bytes():
    assert audience.sha256_hex("jane@example.com") == hashlib.sha256(b"jane@example.com").hexdigest()
    assert audience.sha256_hex("zoë") == hashlib.sha256("zoë".encode()).hexdigest()
    assert audience.sha256_hex("zoë") == hashlib.sha256(b"zo\xc3\xab").hexdigest()
    digest = audience.sha256_hex("+49301234567")
    assert len(digest) == 64 and digest == digest.lower()


# --- email ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("jane@example.com", "jane@example.com"),
    ("  Jane.Doe@Example.COM \n", "jane.doe@example.com"),
    ("\tJANE+news@EXAMPLE.co.uk", "jane+news@example.co.uk"),
    ("jane @ example.com", "jane@example.com"),  # whitespace inside is dropped too
])
def test_email_is_trimmed_and_lower_cased(raw, expected):
    assert audience.normalise_email(raw) == expected


@pytest.mark.parametrize("raw", [
    None, 42, "", "   ", "jane", "jane@", "@example.com", "jane@example", "jane@@example.com",
    "a@b@example.com", "jane@.example.com", "jane@example.com.", "jane@example..com",
])
def test_email_that_is_not_an_address_is_refused(raw):
    assert audience.normalise_email(raw) is None


def test_email_is_unicode_nfc_so_both_spellings_hash_alike():
    decomposed = "Jose\u0301@Example.com"  # e + combining acute accent
    composed = "jos\u00e9@example.com"
    assert audience.normalise_email(decomposed) == composed
    assert audience.normalise_email(composed) == composed
    assert audience.sha256_hex(audience.normalise_email(decomposed)) == hashlib.sha256(
        b"jos\xc3\xa9@example.com").hexdigest()


@pytest.mark.parametrize(("email", "expected"), [
    ("jane.doe+shop@gmail.com", "janedoe@gmail.com"),
    ("j.a.n.e@googlemail.com", "jane@googlemail.com"),
    ("jane+a+b@gmail.com", "jane@gmail.com"),
    ("jane.doe+shop@example.com", "jane.doe+shop@example.com"),  # other domains unchanged
    ("jane.doe@gmail.co.uk", "jane.doe@gmail.co.uk"),
    ("jane.doe@mail.gmail.com", "jane.doe@mail.gmail.com"),
])
def test_google_drops_dots_and_tags_of_gmail_addresses_only(email, expected):
    assert audience.google_email(email) == expected


# --- phone ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("+49 30 1234567", None, "+49301234567"),
    ("+49 030 1234567", None, "+49301234567"),  # trunk 0 written after the country code
    ("+49 (0)30 123 45 67", None, "+49301234567"),
    ("+49-30-1234567", "US", "+49301234567"),  # a + number keeps its own country code
    ("0049 30 1234567", None, "+49301234567"),
    ("0049 (0)30 1234567", "DE", "+49301234567"),
    ("0049 030 1234567", None, "+49301234567"),
    ("030 1234567", "DE", "+49301234567"),  # national: calling code, trunk 0 dropped
    ("030/123 45 67", "de", "+49301234567"),
    ("0171 2345678", "DE", "+491712345678"),
    ("+44 (0)20 7946 0000", None, "+442079460000"),
    ("+44 020 7946 0000", None, "+442079460000"),
    ("020 7946 0000", "GB", "+442079460000"),
    ("06 1234 5678", "IT", "+390612345678"),  # Italy keeps the leading 0
    ("+39 06 1234 5678", None, "+390612345678"),
    ("0039 06 12345678", None, "+390612345678"),
    ("(415) 555-0100", "US", "+14155550100"),
    ("415.555.0100", "US", "+14155550100"),
    ("1 (415) 555-0100", "US", "+14155550100"),
    ("+1 415 555 0100", None, "+14155550100"),
    ("(416) 555-0100", "CA", "+14165550100"),
    ("011 49 30 1234567", "US", "+49301234567"),  # North American international prefix
    ("011 44 20 7946 0000", "CA", "+442079460000"),
    ("+1 415 555 0100 ext. 12", None, "+14155550100"),
    ("(415) 555-0100 x123", "US", "+14155550100"),
    ("030 1234567 extension 5", "DE", "+49301234567"),
    ("+49 30 1234567 #99", None, "+49301234567"),
])
def test_phone_becomes_e164(raw, country, expected):
    assert audience.normalise_phone(raw, country) == expected


@pytest.mark.parametrize(("raw", "country"), [
    (None, "DE"), (4930123456, "DE"), ("", "DE"), ("   ", "DE"),
    ("1-800-FLOWERS", "US"), ("+49 30 CALL ME", None), ("030 123 abc", "DE"),  # letters
    ("+49 1234", None), ("12", "DE"),  # too short (under 7 digits)
    ("+49 1234 5678 9012 3456", None), ("0049 1234567890123456", None),  # longer than 15 digits
    ("555-0100", "US"), ("(415) 555-01000", "US"), ("(015) 555-0100", "US"),  # not 1 + ten digits
    ("+1 415 555 01", None),
    ("030 1234567", None), ("030 1234567", "BR"), ("030 1234567", "Germany"),  # no known country
    ("+49 ３０ 1234567", None),  # non-ASCII digits
])
def test_phone_that_cannot_be_made_e164_is_refused(raw, country):
    assert audience.normalise_phone(raw, country) is None


# --- names ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("Jane", "jane"),
    ("  JANE ", "jane"),
    ("Zoë", "zoë"),
    ("Zoe\u0308", "zoë"),  # decomposed diaeresis composes to the same letters
    ("José-María", "josémaría"),
    ("O'Brien", "obrien"),
    ("Mary Ann", "maryann"),
    ("Jürgen2", "jürgen"),
])
def test_meta_name_is_lower_case_letters_only(raw, expected):
    assert audience.meta_name(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "  ", "123", "-.'", 7])
def test_meta_name_without_letters_is_none(raw):
    assert audience.meta_name(raw) is None


@pytest.mark.parametrize(("raw", "last", "expected"), [
    ("  Jane ", False, "jane"),
    ("Mrs. Jane", False, "jane"),
    ("Dr Prof. Jane", False, "jane"),
    ("MR  John Paul", False, "john paul"),
    ("Zoë", False, "zoë"),
    ("Mrs.", False, "mrs."),  # a title alone is kept: it is all there is
    ("Smith Jr.", True, "smith"),
    ("Smith, Jr.", True, "smith"),
    ("King III", True, "king"),
    ("Pérez Sr", True, "pérez"),
    ("Smith Jr.", False, "smith jr."),  # suffixes only come off last names
    ("Mrs. Smith", True, "mrs. smith"),  # titles only come off first names
])
def test_google_name_is_lower_case_without_titles_or_suffixes(raw, last, expected):
    assert audience.google_name(raw, last=last) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", " , "])
def test_google_name_empty_is_none(raw):
    assert audience.google_name(raw) is None
    assert audience.google_name(raw, last=True) is None


# --- zip and country -----------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("94103", "us", "94103"),
    (" 94103-1234 ", "us", "94103"),  # US: the first five digits only
    ("941031234", "us", "94103"),
    ("SW1A 1AA", "gb", "sw1a1aa"),  # lower case, no spaces
    ("10115", "de", "10115"),
    ("K1A 0B1", "ca", "k1a0b1"),
    ("00-950", "pl", "00-950"),
    ("sw1a 1aa", None, "sw1a1aa"),
])
def test_meta_zip(raw, country, expected):
    assert audience.meta_zip(raw, country) == expected


@pytest.mark.parametrize(("raw", "country"), [
    ("9410", "us"), ("ABCDE", "us"), ("", "us"), (None, "us"), ("", "de"), ("   ", "gb"), (None, "de"),
])
def test_meta_zip_refused(raw, country):
    assert audience.meta_zip(raw, country) is None


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("94103", "us", "94103"),
    ("94103-1234", "us", "94103-1234"),  # Google takes ZIP+4
    (" 94103 - 1234 ", "us", "94103-1234"),
    ("SW1A  1AA", "gb", "SW1A 1AA"),  # others as written, trimmed (not hashed)
    (" 10115 ", "de", "10115"),
])
def test_google_zip(raw, country, expected):
    assert audience.google_zip(raw, country) == expected


@pytest.mark.parametrize(("raw", "country"), [
    ("9410", "us"), ("94103-12", "us"), ("941031234", "us"), ("ABCDE", "us"), (None, "us"),
    ("", "de"), ("   ", "gb"), (None, "de"),
])
def test_google_zip_refused(raw, country):
    assert audience.google_zip(raw, country) is None


@pytest.mark.parametrize(("raw", "expected"), [
    ("DE", "de"), (" us ", "us"), ("gB", "gb"),
    ("Germany", None), ("DEU", None), ("D", None), ("D1", None), ("ÄÖ", None), ("", None), (None, None),
])
def test_country_is_lower_case_iso_alpha2(raw, expected):
    assert audience.normalise_country(raw) == expected


# --- rows ----------------------------------------------------------------------------------------

JANE = {"email": " Jane.Doe+Shop@GMail.com ", "phone": "030 1234567", "first_name": "Mrs. Zoë",
        "last_name": "Pérez Jr.", "country": "DE", "zip": " 10115 "}


def test_meta_row_hashes_every_column():
    assert audience.meta_row(JANE) == (
        hashlib.sha256(b"jane.doe+shop@gmail.com").hexdigest(),  # Meta keeps Gmail dots and tags
        hashlib.sha256(b"49301234567").hexdigest(),  # digits with country code, no +
        hashlib.sha256("mrszoë".encode()).hexdigest(),
        hashlib.sha256("pérezjr".encode()).hexdigest(),
        hashlib.sha256(b"10115").hexdigest(),
        hashlib.sha256(b"de").hexdigest(),
    )


def test_google_row_hashes_email_phone_and_names_and_keeps_country_and_zip_in_clear():
    assert audience.google_row(JANE) == (
        hashlib.sha256(b"janedoe@gmail.com").hexdigest(),
        hashlib.sha256(b"+49301234567").hexdigest(),  # E.164 with the +
        hashlib.sha256("zoë".encode()).hexdigest(),
        hashlib.sha256("pérez".encode()).hexdigest(),
        "de",
        "10115",
    )


def test_row_with_only_an_email():
    row = {"email": "JANE@example.com"}
    digest = hashlib.sha256(b"jane@example.com").hexdigest()
    assert audience.meta_row(row) == (digest, "", "", "", "", "")
    assert audience.google_row(row) == (digest, "", "", "", "", "")


def test_row_with_only_a_phone_uses_the_row_country_before_the_default():
    row = {"phone": "(415) 555-0100", "country": "US"}
    assert audience.meta_row(row, "DE") == (
        "", hashlib.sha256(b"14155550100").hexdigest(), "", "", "", hashlib.sha256(b"us").hexdigest())
    # Google matches a country only with a whole address: blank here
    assert audience.google_row(row, "DE") == ("", hashlib.sha256(b"+14155550100").hexdigest(), "", "", "", "")


def test_row_phone_falls_back_to_the_default_country():
    row = {"phone": "030 1234567"}
    assert audience.meta_row(row, "de") == ("", hashlib.sha256(b"49301234567").hexdigest(), "", "", "", "")
    assert audience.google_row(row, "DE") == ("", hashlib.sha256(b"+49301234567").hexdigest(), "", "", "", "")
    assert audience.meta_row(row) is None  # a national number without a country is no identifier
    assert audience.google_row(row, "Germany") is None


def test_row_with_a_whole_name_and_address_only():
    row = {"first_name": "Jane", "last_name": "Doe", "country": "us", "zip": "94103-1234"}
    assert audience.meta_row(row) == (
        "", "", hashlib.sha256(b"jane").hexdigest(), hashlib.sha256(b"doe").hexdigest(),
        hashlib.sha256(b"94103").hexdigest(), hashlib.sha256(b"us").hexdigest())
    assert audience.google_row(row) == (
        "", "", hashlib.sha256(b"jane").hexdigest(), hashlib.sha256(b"doe").hexdigest(), "us", "94103-1234")


@pytest.mark.parametrize("row", [
    {},
    {"email": "not an address", "phone": "call me"},
    {"first_name": "Jane", "last_name": "Doe", "country": "DE"},  # no zip
    {"first_name": "Jane", "last_name": "Doe", "zip": "10115"},  # no country
    {"first_name": "Jane", "country": "DE", "zip": "10115"},  # no last name
    {"last_name": "Doe", "country": "DE", "zip": "10115"},  # no first name
    {"first_name": "Jane", "last_name": "Doe", "country": "US", "zip": "9410"},  # no valid US zip
])
def test_row_without_email_phone_or_whole_address_is_left_out(row):
    assert audience.meta_row(row) is None
    assert audience.google_row(row) is None


def test_google_blanks_an_incomplete_address_but_meta_keeps_its_parts():
    row = {"email": "jane@example.com", "first_name": "Jane", "country": "DE", "zip": "10115"}
    email = hashlib.sha256(b"jane@example.com").hexdigest()
    assert audience.google_row(row) == (email, "", "", "", "", "")
    assert audience.meta_row(row) == (
        email, "", hashlib.sha256(b"jane").hexdigest(), "", hashlib.sha256(b"10115").hexdigest(),
        hashlib.sha256(b"de").hexdigest())


def test_google_row_keeps_a_us_zip_plus_four_and_meta_the_first_five_digits():
    row = {"email": "jane@example.com", "first_name": "Jane", "last_name": "Doe", "country": "US",
           "zip": "94103 - 1234"}
    assert audience.google_row(row)[4:] == ("us", "94103-1234")
    assert audience.meta_row(row)[4] == hashlib.sha256(b"94103").hexdigest()


# --- files ---------------------------------------------------------------------------------------

def test_meta_csv_header_and_rows():
    text = audience.meta_csv([JANE, {"email": "bob@example.org"}])
    assert text.splitlines()[0] == "email,phone,fn,ln,zip,country"
    assert _lines(text) == [
        ["email", "phone", "fn", "ln", "zip", "country"],
        [sha("jane.doe+shop@gmail.com"), sha("49301234567"), sha("mrszoë"), sha("pérezjr"), sha("10115"),
         sha("de")],
        [sha("bob@example.org"), "", "", "", "", ""],
    ]
    assert text.endswith("\n") and "\r" not in text


def test_google_csv_header_and_rows():
    text = audience.google_csv([JANE, {"phone": "+1 (415) 555-0100"}])
    assert text.splitlines()[0] == "Email,Phone,First Name,Last Name,Country,Zip"
    assert _lines(text) == [
        ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"],
        [sha("janedoe@gmail.com"), sha("+49301234567"), sha("zoë"), sha("pérez"), "de", "10115"],
        ["", sha("+14155550100"), "", "", "", ""],
    ]


def test_csv_writes_identical_rows_once_in_first_seen_order_and_skips_rows_without_identifier():
    rows = [
        {"email": "bob@example.org"},
        {"email": "Jane@Example.com"},
        {"email": "  jane@example.COM "},  # the same as the previous after normalisation
        {"first_name": "Nobody"},  # no identifier
        {"email": "bob@example.org"},
    ]
    assert _lines(audience.meta_csv(rows)) == [
        list(audience.META_HEADER),
        [sha("bob@example.org"), "", "", "", "", ""],
        [sha("jane@example.com"), "", "", "", "", ""],
    ]
    assert _lines(audience.google_csv(rows)) == [
        list(audience.GOOGLE_HEADER),
        [sha("bob@example.org"), "", "", "", "", ""],
        [sha("jane@example.com"), "", "", "", "", ""],
    ]


def test_google_merges_gmail_spellings_that_meta_keeps_apart():
    rows = [{"email": "jane.doe@gmail.com"}, {"email": "janedoe+promo@gmail.com"}]
    assert _lines(audience.google_csv(rows))[1:] == [[sha("janedoe@gmail.com"), "", "", "", "", ""]]
    assert _lines(audience.meta_csv(rows))[1:] == [
        [sha("jane.doe@gmail.com"), "", "", "", "", ""],
        [sha("janedoe+promo@gmail.com"), "", "", "", "", ""],
    ]


def test_csv_with_default_country_and_no_rows():
    assert audience.meta_csv([]) == "email,phone,fn,ln,zip,country\n"
    assert audience.google_csv([]) == "Email,Phone,First Name,Last Name,Country,Zip\n"
    assert _lines(audience.meta_csv([{"phone": "020 7946 0000"}], "GB"))[1] == [
        "", sha("442079460000"), "", "", "", ""]
    assert _lines(audience.google_csv([{"phone": "020 7946 0000"}], "GB"))[1] == [
        "", sha("+442079460000"), "", "", "", ""]
