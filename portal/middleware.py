"""Resolve ``/p/<token>/…`` once into ``request.portal``, and protect every portal response.

Unknown, malformed, revoked and expired tokens all take the same path: the token is hashed
(whatever its shape), one indexed lookup runs (the link with everything its pages read, so a
valid link costs that one query too) and the attempt is counted against the client's IP.
Unknown and malformed tokens then get one generic page, rendered from the same context: nothing
in it depends on which token it was. A revoked or expired link was a real secret given to the
customer, so its page names the business to contact (and, for an expired one, offers a fresh
link): see ``views_portal.invalid_link``. A link whose own dates pass is checked once more: the
document it opens may have closed long enough ago that the link expired with it
(``PortalLink.closed_expiry``, derived on each request, never written); it then takes the same
dead-link path. Past the per-IP limit of invalid attempts (IPv6: per /64), further misses from
that address get 429; valid links keep working. Tokens carry 256 random bits, so the limit is
not what stops guessing: it slows scanners down and keeps their noise out of the database, and
it must never lock a customer out because someone else behind the same address mistyped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.debug import sensitive_variables

from crewcommand.lib.colour import accent_on_white
from crewcommand.lib.prepared import prepared
from crewcommand.models import Company, Customer
from portal import http, slots
from portal.models import PortalLink
from portal.tokens import token_hash

logger = logging.getLogger(__name__)

PREFIX = "/p/"
# What the contractor's preview puts where a token goes (never a token: those are 43
# characters of URL-safe base64).
PREVIEW_TOKEN = "preview"  # noqa: S105 (a word, not a secret)
# Where Stripe sends the customer back (billing.urls_public): not portal URLs, but private
# answers too, whatever the outcome (an unknown attempt's 404, a 405), so they get the same
# headers here rather than only on the responses billing's views build themselves.
PRIVATE_PREFIXES = (PREFIX, "/pay/")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
PORTAL_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}


@dataclass(frozen=True)
class PortalContext:
    """What a valid link opens: the company, the customer, and the scope (all of the
    customer's documents, or one estimate or invoice)."""

    link: PortalLink
    token: str = field(repr=False)

    @property
    def company(self) -> Company:
        return self.link.company

    @property
    def customer(self) -> Customer:
        return self.link.customer

    @property
    def scope(self) -> str:
        if self.link.estimate_id:
            return "estimate"
        if self.link.invoice_id:
            return "invoice"
        return "customer"

    @cached_property
    def accent(self) -> str:
        return accent_on_white(self.company.brand_color)

    @property
    def url_language(self) -> str:
        return self.url("language")

    def url(self, name: str, *args: str) -> str:
        return reverse(f"portal:{name}", args=[self.token, *args])


class PortalRequest(HttpRequest):
    """For type checkers: a request that went through PortalMiddleware."""

    portal: PortalContext


# Lookups compiled once (crewcommand.lib.prepared): ``_BY_TOKEN`` for ``resolve`` (billing's
# return pages); ``_LINK``, a portal request's one query: the link by its token's hash with
# everything its pages read.
_BY_TOKEN = prepared(
    lambda digest: PortalLink.objects.filter(token_hash=digest).values_list(
        "pk", "revoked_at", "expires_at"
    )
)
_LINK = prepared(
    lambda digest: (
        PortalLink.objects.select_related(
            "company",
            "customer",
            "contact",
            "invoice",
            # What an estimate's page shows with it (portal.selectors.estimate_get).
            "estimate__current_revision",
            "estimate__accepted_revision",
            "estimate__signature",
            # What the slots' apps asked for (portal.slots.load_with_link).
            *slots.LINK_RELATED,
        )
        # What the slots' apps compute in the same query (portal.slots.annotate_link).
        .annotate(**{name: expression() for name, expression in slots.LINK_ANNOTATIONS.items()})
        .filter(token_hash=digest)
    ),
    # ~11 kB of SQL that PostgreSQL plans for ~7 ms and runs in ~0.6: planned once per
    # connection.
    server=True,
)


def _token_from_path(path: str) -> str:
    return path[len(PREFIX) :].split("/", 1)[0]


@sensitive_variables("token", "digest")
def resolve(token: str) -> tuple[int | None, bool]:
    """``(link id or None, usable)`` for a token: unknown → ``(None, False)``, revoked or
    expired → ``(id, False)``, good → ``(id, True)``.

    Always exactly one indexed query fetching at most three small columns, so a miss and a dead
    link cost the same; only a usable link then loads its company and customer."""
    digest = token_hash(token)
    found = _BY_TOKEN.first(digest)
    if found is None:
        return None, False
    link_id, revoked_at, expires_at = found
    return link_id, revoked_at is None and (expires_at is None or expires_at > timezone.now())


def _null_origin_is_ours(request: HttpRequest) -> None:
    """Let portal forms pass Django's CSRF origin check.

    Portal pages send ``Referrer-Policy: no-referrer``; by the Fetch standard browsers then post
    from them with ``Origin: null`` and no ``Referer``, which Django's CsrfViewMiddleware
    refuses (and on HTTPS, with no Origin, it would demand a Referer). Under ``/p/`` only, an
    ``Origin`` of exactly ``null`` is read as our own origin. Any real foreign origin is still
    refused, and the CSRF token check (form token against the SameSite=Lax cookie, which a
    cross-site post does not carry) is untouched: that is what stops cross-site posts."""
    if request.META.get("HTTP_ORIGIN") == "null" and request.method not in SAFE_METHODS:
        request.META["HTTP_ORIGIN"] = f"{request.scheme}://{request.get_host()}"


class PortalMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PREFIX):
            response = self.get_response(request)
            if request.path_info.startswith(PRIVATE_PREFIXES):
                for name, value in PORTAL_HEADERS.items():
                    response[name] = value
            return response
        _null_origin_is_ours(request)
        response = self._portal(request)
        for name, value in PORTAL_HEADERS.items():
            response[name] = value
        return response

    @sensitive_variables("token", "link")
    def _portal(self, request: HttpRequest) -> HttpResponse:
        from portal import views_portal

        token = _token_from_path(request.path_info)
        if token == PREVIEW_TOKEN:
            # The contractor's preview (portal.views.preview) carries no token: its forms and
            # links name this word instead, and nothing a customer can do is done from it.
            return views_portal.preview_refused(request)
        # One indexed query, whatever the token: the link by its hash, with what its pages
        # read. Usable: not revoked, its own dates pass, and the document it opens has not
        # closed long enough ago that the link expired with it (PortalLink.closed_expiry,
        # derived: no write).
        link = _LINK.first(token_hash(token))
        link_id = link.pk if link is not None else None
        usable = link is not None and link.is_usable()
        if not usable:
            # Only misses are counted and only misses are refused: a customer's valid link keeps
            # working from an address (an office NAT, a carrier's IPv6 /64) where someone else
            # tripped the limit. Every miss takes this same path, limited or not.
            bucket = http.client_bucket(request)
            window = settings.PORTAL_INVALID_LINK_WINDOW
            attempts = http.rate_hit("invalid", bucket, window=window)
            logger.info("portal: invalid link attempt")
            if attempts > settings.PORTAL_INVALID_LINK_LIMIT:
                return views_portal.too_many_attempts(request)
            # A dead link's id names its business on the page, and feeds the queued fresh-link
            # check; an unknown token's answer is the generic page.
            return views_portal.invalid_link(request, dead_link_id=link_id)
        assert link is not None
        request.portal = PortalContext(link=link, token=token)
        # Every portal page is in the customer's language (their choice, else the company's).
        translation.activate(link.customer.language or link.company.default_language)
        request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
