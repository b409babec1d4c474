"""Find a customer's time zone from the country and subdivision of their default address.

The rule, applied to the codes the mirror holds (ISO 3166-1 alpha-2 country; subdivision as
the part of its ISO 3166-2 code after the country, or the platform's own abbreviation):

* A country that keeps one civil time everywhere people live (every EU country but Spain
  and Portugal, the United Kingdom, Japan, India, New Zealand, …) has one zone, whatever the
  subdivision says.
* A country spread over several zones (the United States, Canada, Australia, Brazil, Mexico,
  Russia, Spain, Portugal) has a zone per subdivision. A subdivision split between zones
  takes the zone most of its people live in (Texas is Central, Florida and Kentucky Eastern,
  Idaho Mountain). An unknown or missing subdivision takes the country's most populous zone
  (the United States: Eastern; Canada: Toronto; Australia: Sydney).
* A country not in the tables, or no country at all, takes the fallback: the shop's zone.

Only where a person is matters, never where the shop is: a customer in California of a shop in
Paris keeps quiet hours on Pacific time.
"""

from __future__ import annotations

import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from app.messaging import consent, render
from app.store.models import Shop

# Countries with one zone.
COUNTRY_ZONES: dict[str, str] = {
    # European Union (Spain and Portugal are below, with their islands)
    "AT": "Europe/Vienna", "BE": "Europe/Brussels", "BG": "Europe/Sofia", "HR": "Europe/Zagreb",
    "CY": "Asia/Nicosia", "CZ": "Europe/Prague", "DK": "Europe/Copenhagen", "EE": "Europe/Tallinn",
    "FI": "Europe/Helsinki", "FR": "Europe/Paris", "DE": "Europe/Berlin", "GR": "Europe/Athens",
    "HU": "Europe/Budapest", "IE": "Europe/Dublin", "IT": "Europe/Rome", "LV": "Europe/Riga",
    "LT": "Europe/Vilnius", "LU": "Europe/Luxembourg", "MT": "Europe/Malta", "NL": "Europe/Amsterdam",
    "PL": "Europe/Warsaw", "RO": "Europe/Bucharest", "SK": "Europe/Bratislava", "SI": "Europe/Ljubljana",
    "SE": "Europe/Stockholm",
    # the rest of Europe
    "GB": "Europe/London", "CH": "Europe/Zurich", "NO": "Europe/Oslo", "IS": "Atlantic/Reykjavik",
    "LI": "Europe/Vaduz", "MC": "Europe/Monaco", "AD": "Europe/Andorra", "SM": "Europe/San_Marino",
    "RS": "Europe/Belgrade", "BA": "Europe/Sarajevo", "ME": "Europe/Podgorica", "MK": "Europe/Skopje",
    "AL": "Europe/Tirane", "MD": "Europe/Chisinau", "UA": "Europe/Kyiv", "BY": "Europe/Minsk",
    "TR": "Europe/Istanbul", "GE": "Asia/Tbilisi", "AM": "Asia/Yerevan", "AZ": "Asia/Baku",
    # Asia
    "JP": "Asia/Tokyo", "KR": "Asia/Seoul", "CN": "Asia/Shanghai", "TW": "Asia/Taipei",
    "HK": "Asia/Hong_Kong", "MO": "Asia/Macau", "SG": "Asia/Singapore", "MY": "Asia/Kuala_Lumpur",
    "TH": "Asia/Bangkok", "VN": "Asia/Ho_Chi_Minh", "PH": "Asia/Manila", "IN": "Asia/Kolkata",
    "PK": "Asia/Karachi", "BD": "Asia/Dhaka", "LK": "Asia/Colombo", "NP": "Asia/Kathmandu",
    "ID": "Asia/Jakarta", "KZ": "Asia/Almaty", "IL": "Asia/Jerusalem", "AE": "Asia/Dubai",
    "SA": "Asia/Riyadh", "QA": "Asia/Qatar", "KW": "Asia/Kuwait", "BH": "Asia/Bahrain",
    "OM": "Asia/Muscat", "JO": "Asia/Amman", "LB": "Asia/Beirut",
    # Africa
    "ZA": "Africa/Johannesburg", "EG": "Africa/Cairo", "MA": "Africa/Casablanca", "NG": "Africa/Lagos",
    "KE": "Africa/Nairobi", "GH": "Africa/Accra", "TN": "Africa/Tunis", "DZ": "Africa/Algiers",
    # Oceania
    "NZ": "Pacific/Auckland",
    # the Americas
    "AR": "America/Argentina/Buenos_Aires", "CL": "America/Santiago", "CO": "America/Bogota",
    "PE": "America/Lima", "UY": "America/Montevideo", "VE": "America/Caracas", "EC": "America/Guayaquil",
    "PR": "America/Puerto_Rico", "CR": "America/Costa_Rica", "PA": "America/Panama",
    "GT": "America/Guatemala", "DO": "America/Santo_Domingo", "JM": "America/Jamaica",
}

_EASTERN, _CENTRAL, _MOUNTAIN, _PACIFIC = ("America/New_York", "America/Chicago", "America/Denver",
                                           "America/Los_Angeles")

# Countries with several zones: the zone of each subdivision, and of the country as a whole
# (its most populous zone) when the subdivision is unknown.
SUBDIVISION_ZONES: dict[str, tuple[str, dict[str, str]]] = {
    "US": (_EASTERN, {
        **dict.fromkeys(("CT", "DE", "DC", "FL", "GA", "KY", "ME", "MD", "MA", "NH", "NJ", "NY", "NC",
                         "OH", "PA", "RI", "SC", "VT", "VA", "WV"), _EASTERN),
        "MI": "America/Detroit", "IN": "America/Indiana/Indianapolis",
        **dict.fromkeys(("AL", "AR", "IL", "IA", "KS", "LA", "MN", "MS", "MO", "NE", "ND", "OK", "SD",
                         "TN", "TX", "WI"), _CENTRAL),
        **dict.fromkeys(("CO", "MT", "NM", "UT", "WY"), _MOUNTAIN),
        "ID": "America/Boise", "AZ": "America/Phoenix",
        **dict.fromkeys(("CA", "NV", "OR", "WA"), _PACIFIC),
        "AK": "America/Anchorage", "HI": "Pacific/Honolulu",
        # territories, where a platform files them under the United States
        "PR": "America/Puerto_Rico", "VI": "America/St_Thomas", "GU": "Pacific/Guam",
        "MP": "Pacific/Saipan", "AS": "Pacific/Pago_Pago",
    }),
    "CA": ("America/Toronto", {
        "ON": "America/Toronto", "QC": "America/Toronto", "BC": "America/Vancouver",
        "AB": "America/Edmonton", "MB": "America/Winnipeg", "SK": "America/Regina",
        "NS": "America/Halifax", "PE": "America/Halifax", "NB": "America/Moncton",
        "NL": "America/St_Johns", "YT": "America/Whitehorse", "NT": "America/Yellowknife",
        "NU": "America/Iqaluit",
    }),
    "AU": ("Australia/Sydney", {
        "NSW": "Australia/Sydney", "ACT": "Australia/Sydney", "VIC": "Australia/Melbourne",
        "QLD": "Australia/Brisbane", "SA": "Australia/Adelaide", "WA": "Australia/Perth",
        "TAS": "Australia/Hobart", "NT": "Australia/Darwin",
    }),
    "BR": ("America/Sao_Paulo", {
        **dict.fromkeys(("SP", "RJ", "MG", "ES", "PR", "SC", "RS", "GO", "DF"), "America/Sao_Paulo"),
        "BA": "America/Bahia", "PE": "America/Recife", "AL": "America/Maceio", "SE": "America/Maceio",
        **dict.fromkeys(("CE", "PB", "RN", "PI", "MA"), "America/Fortaleza"),
        "PA": "America/Belem", "AP": "America/Belem", "TO": "America/Araguaina",
        "AM": "America/Manaus", "RR": "America/Boa_Vista", "RO": "America/Porto_Velho",
        "AC": "America/Rio_Branco", "MT": "America/Cuiaba", "MS": "America/Campo_Grande",
    }),
    # Mexico's states by their ISO 3166-2 code, and as the platforms' address forms abbreviate
    # them; the states not named keep central time.
    "MX": ("America/Mexico_City", {
        **dict.fromkeys(("BCN", "BC"), "America/Tijuana"),
        **dict.fromkeys(("BCS", "BS", "SIN", "SI", "NAY", "NA"), "America/Mazatlan"),
        **dict.fromkeys(("SON", "SO"), "America/Hermosillo"),
        **dict.fromkeys(("CHH", "CHIH", "CH"), "America/Chihuahua"),
        **dict.fromkeys(("ROO", "Q ROO", "QR"), "America/Cancun"),
    }),
    "RU": ("Europe/Moscow", {
        "MOW": "Europe/Moscow", "SPE": "Europe/Moscow", "MOS": "Europe/Moscow", "TA": "Europe/Moscow",
        "KGD": "Europe/Kaliningrad", "SAM": "Europe/Samara", "SVE": "Asia/Yekaterinburg",
        "CHE": "Asia/Yekaterinburg", "NVS": "Asia/Novosibirsk", "KYA": "Asia/Krasnoyarsk",
        "IRK": "Asia/Irkutsk", "PRI": "Asia/Vladivostok", "KHA": "Asia/Vladivostok",
    }),
    # The Canary Islands (the community, and its two provinces) keep Atlantic time.
    "ES": ("Europe/Madrid", dict.fromkeys(("CN", "GC", "TF"), "Atlantic/Canary")),
    # The Azores are an hour behind the mainland and Madeira.
    "PT": ("Europe/Lisbon", {"20": "Atlantic/Azores"}),
}


def zone_name(country_code: str | None, province_code: str | None) -> str | None:
    """Return the IANA zone of a country and subdivision by the tables above; None if unknown."""
    country = (country_code or "").strip().upper()
    if country in SUBDIVISION_ZONES:
        default, subdivisions = SUBDIVISION_ZONES[country]
        province = (province_code or "").strip().upper()
        province = province.removeprefix(f"{country}-")
        return subdivisions.get(province, default)
    return COUNTRY_ZONES.get(country)


@functools.lru_cache(maxsize=256)
def _load(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None  # a zone this system's database lacks


def customer_zone(country_code: str | None, province_code: str | None, fallback: ZoneInfo) -> ZoneInfo:
    """Return the time zone of a customer at this address; ``fallback`` when it says none."""
    name = zone_name(country_code, province_code)
    found = _load(name) if name else None
    return found or fallback


def recipient_zone(session: Session, shop: Shop, *, customer_external_id: str | None,
                   email: str | None) -> ZoneInfo:
    """Return the zone of the mirror's customer a message is for; the shop's when unknown.

    The customer is found as consent finds them: by id, else the one customer with that address.
    """
    fallback = render.zone(shop.timezone)
    customer = consent.customer_for(session, shop.id, customer_external_id, email)
    if customer is None:
        return fallback
    return customer_zone(customer.country_code, customer.province_code, fallback)
