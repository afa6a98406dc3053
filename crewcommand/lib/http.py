"""Who is asking: the client's IP address as the app should see it, and the bucket that address
falls in for rate limits. Shared by the portal's invalid-link limit and the login, signup and
password-reset limits, so every limit agrees on who a client is."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

# An ISP hands a household or an office a whole /64 (often more): a client can move between
# addresses inside it at will, so limits count the /64, not the single IPv6 address.
IPV6_BUCKET_PREFIX = 64


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the address the trusted proxies in front of us saw.

    ``X-Forwarded-For`` is read only when ``TRUSTED_PROXY_COUNT`` says how many proxies append
    to it, and then only the entry the outermost trusted proxy wrote (``TRUSTED_PROXY_COUNT``
    hops from the right): anything left of it is whatever the client chose to send."""
    hops = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    candidate = request.META.get("REMOTE_ADDR", "")
    if hops:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def ip_bucket(ip: str | None) -> str:
    """The identity a rate limit counts for an address: an IPv4 address itself, an IPv6
    address's /64 network (an IPv4-mapped IPv6 address counts as its IPv4 address)."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Network((address, IPV6_BUCKET_PREFIX), strict=False)
        return str(network)
    return str(address)


def client_bucket(request: HttpRequest) -> str:
    return ip_bucket(client_ip(request))
