"""``{% if member|can:"invoice.void" %}``: show a control only to roles that may use it, from
the same table the views enforce (``crewcommand.permissions``)."""

from __future__ import annotations

from django import template

from crewcommand.models import Member
from crewcommand.permissions import member_can

register = template.Library()


@register.filter
def can(member: Member | None, action: str) -> bool:
    return member_can(member, action)
