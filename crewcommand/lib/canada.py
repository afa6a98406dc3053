"""Canadian identifiers as people type them and as we keep them: phone numbers, postal codes,
GST/HST and QST registration numbers.

``normalise_*`` take what was typed and return the stored form, or raise ``InvalidValue``
(forms turn it into a field error). ``display_*`` take what is stored, including rows saved
before validation existed, and never fail: a value they cannot read is shown as it is.

- Phones: parsed with ``phonenumbers`` (Canada when no country code is given), stored E.164
  (``+15145550123``, with `` ext. 22`` when there is an extension), shown nationally for North
  American numbers (``(514) 555-0123``) and internationally otherwise.
- Postal codes: ``A1A 1A1``, upper case, letters Canada Post uses (no D, F, I, O, Q, U; no W
  or Z first).
- GST/HST: the 9-digit business number, ``RT`` and a 4-digit account (``123456789 RT0001``).
- QST: 10 digits, ``TQ`` and 4 digits (``1234567890 TQ0001``).
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

DEFAULT_REGION = "CA"


class InvalidValue(ValueError):
    """The typed value is not a valid identifier of its kind."""


def _parse_phone(value: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def normalise_phone(value: str) -> str:
    """``"(514) 555-0123"`` → ``"+15145550123"``; empty stays empty."""
    value = value.strip()
    if not value:
        return ""
    if len(value) > 40 or re.search(r"[^\d\s()+\-.extEXT#;=/]", value):
        raise InvalidValue(value)
    number = _parse_phone(value)
    if number is None:
        raise InvalidValue(value)
    stored = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if number.extension:
        stored += f" ext. {number.extension}"
    return stored


@lru_cache(maxsize=4096)
def display_phone(value: str | None) -> str:
    """A stored phone as people read it: ``(514) 555-0123`` in North America, ``+44 20 7946
    0958`` elsewhere; anything unreadable as it is."""
    if not value:
        return ""
    number = _parse_phone(value)
    if number is None:
        return value
    if number.country_code == 1:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@lru_cache(maxsize=4096)
def phone_uri(value: str | None) -> str:
    """A ``tel:`` link target for a stored phone (``+15145550123``), or "" when unreadable."""
    if not value:
        return ""
    number = _parse_phone(value)
    if number is None:
        digits = re.sub(r"[^\d+]", "", value)
        return digits if len(digits) >= 7 else ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_POSTAL = re.compile(r"^([ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z])\s*-?\s*(\d[ABCEGHJ-NPRSTV-Z]\d)$")


def normalise_postal_code(value: str) -> str:
    """``"h2x1y4"`` → ``"H2X 1Y4"``; empty stays empty."""
    text = value.strip().upper()
    if not text:
        return ""
    found = _POSTAL.match(text)
    if found is None:
        raise InvalidValue(value)
    return f"{found.group(1)} {found.group(2)}"


_GST = re.compile(r"^(\d{9})\s*-?\s*RT\s*-?\s*(\d{4})$")
_QST = re.compile(r"^(\d{10})\s*-?\s*TQ\s*-?\s*(\d{4})$")


def normalise_gst_number(value: str) -> str:
    """``"123456789rt0001"`` or ``"123 456 789 RT 0001"`` → ``"123456789 RT0001"``."""
    return _registration(value, _GST, "RT")


def normalise_qst_number(value: str) -> str:
    """``"1234567890tq0001"`` → ``"1234567890 TQ0001"``."""
    return _registration(value, _QST, "TQ")


def _registration(value: str, pattern: re.Pattern[str], program: str) -> str:
    text = value.strip().upper()
    if not text:
        return ""
    # Spaces people put inside the digits ("123 456 789") are dropped before matching.
    compact = re.sub(r"(?<=\d)\s+(?=\d)", "", text)
    found = pattern.match(compact)
    if found is None:
        raise InvalidValue(value)
    return f"{found.group(1)} {program}{found.group(2)}"
