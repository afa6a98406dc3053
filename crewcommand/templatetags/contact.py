"""``{{ company.phone|phone }}`` and ``tel:{{ company.phone|tel }}``: stored phones as people
read and dial them (``crewcommand.lib.canada``); a value saved before phones were checked is
shown as it is, never an error."""

from __future__ import annotations

from django import template

from crewcommand.lib.canada import display_phone, phone_uri

register = template.Library()


@register.filter
def phone(value: str | None) -> str:
    return display_phone(value)


@register.filter
def tel(value: str | None) -> str:
    return phone_uri(value)
