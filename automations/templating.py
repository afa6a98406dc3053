"""Message templates: the variables they may use, checking a template and rendering it (pure
functions; no database)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crewcommand import messaging

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
    valid = ", ".join("{" + name + "}" for name in VARIABLES)
    unknown = [name for name in used(text) if name not in VARIABLES]
    if unknown:
        raise ValidationError(
            _("Unknown variable %(unknown)s. You can use: %(valid)s."),
            code="unknown_variable",
            params={"unknown": ", ".join("{" + n + "}" for n in unknown), "valid": valid},
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


# The SMS segment count shown while editing is the outbox's (``crewcommand.messaging``).
sms_segments = messaging.sms_segments
