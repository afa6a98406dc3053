"""Small request helpers for the portal: the client's IP (from ``crewcommand.lib.http``), a
coarse device class, prefetchers, and a fixed-window rate limiter on the shared cache."""

from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

# Re-exported: the portal's views and the billing portal pages read the client IP from here.
from crewcommand.lib.http import client_bucket, client_ip  # noqa: F401
from portal.models import Device

if TYPE_CHECKING:
    from portal.middleware import PortalContext


class PortalRequest(HttpRequest):
    """The request a customer's portal view gets, for its signature: ``portal`` (what the
    link opens, set by ``PortalMiddleware``) and django-htmx's ``htmx``. Django's request
    object, only typed."""

    portal: PortalContext
    htmx: HtmxDetails


# Link unfurlers and mail scanners fetch links without a person behind them; their fetches
# are not views and must not move a document to "viewed".
_PREFETCHERS = re.compile(
    r"bot\b|crawler|spider|preview|facebookexternalhit|slack|whatsapp|telegram|discord|"
    r"skypeuripreview|google-safety|googleimageproxy|barracuda|proofpoint|mimecast|"
    r"microsoft office existence|ms-office|curl/|wget/|python-requests",
    re.IGNORECASE,
)
_TABLET = re.compile(r"ipad|tablet|(android(?!.*mobile))|kindle|silk", re.IGNORECASE)
_PHONE = re.compile(r"iphone|ipod|android.*mobile|mobile|windows phone|blackberry", re.IGNORECASE)


def user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:500]


def device_class(agent: str) -> str:
    if _TABLET.search(agent):
        return Device.TABLET
    if _PHONE.search(agent):
        return Device.PHONE
    if re.search(r"windows|macintosh|x11|linux|cros", agent, re.IGNORECASE):
        return Device.DESKTOP
    return Device.OTHER


def is_prefetch(request: HttpRequest) -> bool:
    """A HEAD request, a browser prefetch, or a known link scanner or unfurler."""
    if request.method != "GET":
        return True
    purpose = request.META.get("HTTP_SEC_PURPOSE", "") + request.META.get("HTTP_PURPOSE", "")
    if "prefetch" in purpose.lower():
        return True
    return bool(_PREFETCHERS.search(user_agent(request)))


def _bucket_key(name: str, ident: str, window: int) -> str:
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    return f"portal:rl:{name}:{digest}:{int(time.time() // window)}"


def rate_count(name: str, ident: str, *, window: int) -> int:
    return int(cache.get(_bucket_key(name, ident, window), 0))


def rate_hit(name: str, ident: str, *, window: int) -> int:
    """Count one event in the current window and return the count so far."""
    key = _bucket_key(name, ident, window)
    cache.add(key, 0, window + 5)
    try:
        return int(cache.incr(key))
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, window + 5)
        return 1
