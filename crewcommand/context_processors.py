from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def app(request: HttpRequest) -> dict:
    return {
        "company": getattr(request, "company", None),
        "member": getattr(request, "member", None),
        "SITE_URL": settings.SITE_URL,
    }
