"""How the date variables read in each language: customer-facing strings (listed in
``tests/i18n_check.py``), translated in the fr-CA catalogue (``25 novembre 2026``,
``mardi 25 novembre à 14 h 30``). Call them inside the recipient's language."""

from __future__ import annotations

import datetime as dt

from django.utils import formats
from django.utils.translation import get_language
from django.utils.translation import gettext as _


def due_date_format() -> str:
    """``{due_date}``: "Nov 25, 2026" / "25 novembre 2026"."""
    return _("M j, Y")


def job_date_format() -> str:
    """``{job_date}``: "Tuesday Nov 25, 2:30 PM" / "mardi 25 novembre à 14 h 30"."""
    return _("l M j, g:i A")


def job_date(when: dt.datetime) -> str:
    """``when`` (already in the company's time zone) as ``{job_date}`` writes it. French writes
    weekdays in lower case inside a sentence; the catalogue's "Mardi" is the booking form's
    heading, so the first letter is lowered here."""
    text = formats.date_format(when, job_date_format())
    if (get_language() or "").startswith("fr"):
        text = text[:1].lower() + text[1:]
    return text
