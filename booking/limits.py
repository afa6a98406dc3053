"""Rate limits of the request forms, on django-ratelimit and the shared (Redis) cache, like
``crewcommand.ratelimits``: per client address (IPv4, or IPv6 /64) and per company.

- ``attempts``: every POST from one address, valid or not (bounds the work a flood causes,
  photo decoding included);
- ``ip``: requests recorded from one address;
- ``company``: requests recorded for one company from anywhere (a botnet can change addresses,
  but not flood one contractor's inbox past this).

Rates are settings (``BOOKING_RATE_LIMITS``) with these defaults.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

DEFAULT_RATES = {"attempts": "30/h", "ip": "5/h", "company": "60/h"}


def rate(name: str) -> str:
    return {**DEFAULT_RATES, **getattr(settings, "BOOKING_RATE_LIMITS", {})}[name]


def _usage(request: HttpRequest, name: str, value: str, *, increment: bool) -> dict | None:
    return get_usage(
        request,
        group=f"booking.{name}",
        key=lambda _group, _request: value,
        rate=rate(name),
        increment=increment,
    )


def is_full(request: HttpRequest, name: str, value: str) -> bool:
    usage = _usage(request, name, value, increment=False)
    return usage is not None and usage["count"] >= usage["limit"]


def hit(request: HttpRequest, name: str, value: str) -> bool:
    """Count one event; True when that went past the limit."""
    usage = _usage(request, name, value, increment=True)
    return usage is not None and bool(usage["should_limit"])
