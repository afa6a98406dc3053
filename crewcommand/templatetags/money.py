"""``{{ amount|cad }}``: money as people read it, through the one formatting function."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import gettext_lazy as _

from crewcommand.lib.money import active_locale, format_cad

register = template.Library()


@register.filter
def cad(amount: Decimal | int | None) -> str:
    if amount is None or amount == "":
        return ""
    return format_cad(Decimal(amount), active_locale())


@register.filter
def percent(rate: Decimal) -> str:
    """13.000 → "13%", 9.975 → "9.975%"; in French "13\u00a0%", "9,975\u00a0%"."""
    text = format(Decimal(rate).normalize(), "f")
    if active_locale() == "fr-CA":
        return f"{text.replace('.', ',')}\u00a0%"
    return f"{text}%"


# Tax names as customers read them; French-Canadian translations give TPS, TVH, TVP, TVQ.
TAX_LABELS = {
    "GST": _("GST"),
    "HST": _("HST"),
    "PST": _("PST"),
    "RST": _("RST"),
    "QST": _("QST"),
}


@register.filter
def tax_label(tax) -> str:
    """The translated name of a documents.tax.TaxLine (falls back to its data label)."""
    return str(TAX_LABELS.get(getattr(tax, "code", ""), getattr(tax, "label", "")))
