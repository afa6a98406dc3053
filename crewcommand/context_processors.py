from __future__ import annotations

from functools import cache, partial

from django.conf import settings
from django.http import HttpRequest

from crewcommand.lib import nav


def app(request: HttpRequest) -> dict:
    member = getattr(request, "member", None)
    match = getattr(request, "resolver_match", None)
    return {
        "company": getattr(request, "company", None),
        "member": member,
        "SITE_URL": settings.SITE_URL,
        # A callable: templates call it only where the sidebar is drawn, and once per request
        # (the sidebar's {% memo %} reads it for its key, then on a miss for its entries).
        "nav_entries": cache(partial(nav.entries_for, member, match.namespace if match else None)),
    }
