"""``{{ amount|cad }}``: money as people read it, through the one formatting function."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import get_language

from crewcommand.lib.money import format_cad

register = template.Library()


@register.filter
def cad(amount: Decimal | int | None) -> str:
    if amount is None or amount == "":
        return ""
    locale = "fr-CA" if (get_language() or "").startswith("fr") else "en-CA"
    return format_cad(Decimal(amount), locale)


@register.filter
def percent(rate: Decimal) -> str:
    """13.000 → "13%", 9.975 → "9.975%"."""
    text = format(Decimal(rate).normalize(), "f")
    return f"{text}%"
