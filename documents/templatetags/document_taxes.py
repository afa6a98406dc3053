"""What a line says about its taxes, the same words on the dashboard, the portal and the PDF."""

from __future__ import annotations

from django import template

from documents.totals import line_tax_note, tax_split_note

register = template.Library()


@register.simple_tag
def line_taxes(line, province: str) -> str:
    """ "Tax exempt", "GST only", "PST only"…, or "" when every tax applies to the line."""
    return line_tax_note(line.taxable, line.tax_parts, province)


@register.simple_tag
def tax_split(tax, totals) -> str:
    """Which part of a tax split at the deposit's tax point this line is; "" when not split."""
    return tax_split_note(tax, totals)
