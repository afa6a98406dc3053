"""Message templates: the variables they may use, checking a template, rendering it, and the
SMS segment count shown while editing (pure functions; no database)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Every variable a template may use, with what it becomes (shown in the editor).
VARIABLES: dict[str, object] = {
    "customer_name": _("the customer's name"),
    "company_name": _("your company's name"),
    "portal_link": _("the customer's link to their documents"),
    "payment_link": _("the link to pay the invoice online"),
    "review_link": _("the link to leave a Google review"),
    "booking_link": _("your booking page"),
    "document_number": _("the estimate or invoice number"),
    "amount_due": _("the invoice's balance"),
    "due_date": _("the invoice's due date"),
    "job_date": _("the job's date and time"),
}

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def used(text: str) -> list[str]:
    """The variables ``text`` uses, in order of first use."""
    names: list[str] = []
    for name in _PLACEHOLDER.findall(text):
        if name not in names:
            names.append(name)
    return names


def validate(text: str) -> None:
    """Refuse unknown variables (naming the valid ones) and stray braces."""
    valid = ", ".join("{%s}" % name for name in VARIABLES)
    unknown = [name for name in used(text) if name not in VARIABLES]
    if unknown:
        raise ValidationError(
            _("Unknown variable %(unknown)s. You can use: %(valid)s."),
            code="unknown_variable",
            params={"unknown": ", ".join("{%s}" % n for n in unknown), "valid": valid},
        )
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise ValidationError(
            _("Braces are only for variables, like {customer_name}. You can use: %(valid)s."),
            code="stray_brace",
            params={"valid": valid},
        )


def render(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each ``{name}`` replaced by its value (validated templates only)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


# GSM 03.38: the basic set (one septet each) and the extension table (two: escape + char).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int


def sms_segments(text: str) -> Segments:
    """How many SMS parts ``text`` takes: GSM-7 (160 in one part, 153 per part when split)
    unless a character is outside it, then UCS-2 (70, or 67 per part, counted in UTF-16 code
    units so an emoji counts two)."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        units = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units == 0:
        return Segments(encoding, 0, 0, single)
    if units <= single:
        return Segments(encoding, units, 1, single)
    return Segments(encoding, units, -(-units // multi), multi)
