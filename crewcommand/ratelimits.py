"""Brute-force limits for the doors that take a password or send mail: the app's login, the
Django admin login, password reset and signup.

Each door is limited twice, by the client's address (IPv4, or IPv6 /64: ``crewcommand.lib.http``)
and by the account or address it names, so neither one IP trying many accounts nor many IPs
trying one account gets far. Counts live in the default cache through django-ratelimit: Redis
in production and tests (shared by every process); the embedded demo's local-memory cache
counts per process, which is enough for one process (a deploy check warns about it).

Logins count failures only (a typo followed by success is normal); once a bucket is full, the
next attempt is refused before the password is checked, so a correct guess can't be told from a
wrong one. Password reset and signup refuse an address's further mail silently, so the answer
never says whether an address has an account.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit import ALL
from django_ratelimit.core import _get_window, _make_cache_key, _split_rate, get_usage

from crewcommand.lib.http import client_bucket

logger = logging.getLogger(__name__)


def _group(group: str) -> str:
    return f"crewcommand.{group}"


def _usage(request: HttpRequest, group: str, value: str, *, increment: bool) -> dict | None:
    return get_usage(
        request,
        group=_group(group),
        key=lambda _group, _request: value,
        rate=settings.AUTH_RATE_LIMITS[group],
        increment=increment,
    )


def is_full(request: HttpRequest, group: str, value: str) -> int:
    """Seconds until the bucket empties if it is full (0 if not), without counting."""
    usage = _usage(request, group, value, increment=False)
    if usage is None or usage["count"] < usage["limit"]:
        return 0
    return max(usage["time_left"], 1)


def hit(request: HttpRequest, group: str, value: str) -> int:
    """Count one event; seconds until the bucket empties if that went past the limit, else 0."""
    usage = _usage(request, group, value, increment=True)
    if usage is None or not usage["should_limit"]:
        return 0
    return max(usage["time_left"], 1)


def account_key(value: str | None) -> str:
    return (value or "").strip().casefold()[:254]


def clear(group: str, value: str) -> None:
    """Empty one bucket now. django-ratelimit has no public call for this, so the key is made
    with its own helpers, exactly as ``get_usage`` makes it (same group, rate, value, window)."""
    rate = settings.AUTH_RATE_LIMITS[group]
    _limit, period = _split_rate(rate)
    key = _make_cache_key(_group(group), _get_window(value, period), rate, value, ALL)
    caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")].delete(key)


def login_lockout_clear(user) -> None:
    """A user who has just proved they own the account (a password reset through their
    mailbox) may log in again at once: their account's failed-login count is emptied. The
    per-address count stays, so this opens nothing to someone guessing across accounts."""
    for name in {account_key(user.get_username()), account_key(user.email)} - {""}:
        clear("login_account", name)


def too_many(request: HttpRequest, *, door: str, retry_after: int) -> HttpResponse:
    """The 429 page, in the app's layout, saying what to do and when to try again."""
    minutes = max(1, math.ceil(retry_after / 60))
    context = {"door": door, "minutes": minutes}
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def login_guard(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Limit failed logins per address and per account, for any view built on Django's
    LoginView (ours and the admin's). A login that succeeds answers with a redirect; anything
    else to a POST counts as a failure."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        buckets = [("login_ip", client_bucket(request))]
        if account := account_key(request.POST.get("username")):
            buckets.append(("login_account", account))
        wait = max(is_full(request, group, value) for group, value in buckets)
        if wait:
            logger.warning("login refused: too many failed attempts (%s)", request.path)
            return too_many(request, door="login", retry_after=wait)
        response = view(request, *args, **kwargs)
        if not 300 <= response.status_code < 400:
            for group, value in buckets:
                hit(request, group, value)
        return response

    return wrapper


def post_guard(group: str, *, door: str) -> Callable:
    """Limit POSTs to a view per client address (every POST counts)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            wait = hit(request, group, client_bucket(request)) if request.method == "POST" else 0
            if wait:
                logger.warning("%s refused: too many requests from one address", door)
                return too_many(request, door=door, retry_after=wait)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def mail_allowed(request: HttpRequest, group: str, address: str) -> bool:
    """Count one mail to ``address``; False once the address has had its share. Callers skip
    the mail silently: the page answers the same either way."""
    if hit(request, group, account_key(address)):
        logger.info("%s: mail limit reached for an address", group)
        return False
    return True
