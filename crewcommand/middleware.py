"""Project middleware."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.middleware.gzip import GZipMiddleware
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers


class HtmxMessagesMiddleware:
    """On htmx requests, deliver pending flash messages as out-of-band toasts, so feedback shows
    up the same way whether a page was reloaded or only a fragment was swapped."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not getattr(request, "htmx", False)
            or "HX-Redirect" in response
            or 300 <= response.status_code < 400
            or not response.get("Content-Type", "").startswith("text/html")
            or getattr(response, "streaming", False)
        ):
            return response
        pending = list(messages.get_messages(request))
        if pending:
            response.write(render_to_string("components/toasts_oob.html", {"toasts": pending}))
        return response


class PrivateNoStoreMiddleware:
    """Everything a logged-in user is sent (dashboard pages, document PDFs, exports) carries
    ``Cache-Control: private, no-store``: customers' names, addresses and amounts must not stay
    in a shared proxy, or in the browser cache of a shared office computer after logout.

    Sits after ``AuthenticationMiddleware``; static files never get here (WhiteNoise answers
    them first, with its own long-lived caching). A response that already says ``no-store``
    (the portal's headers, ``never_cache`` views) is left exactly as it is. Requests without a
    session cookie are skipped without touching the session, so anonymous and portal responses
    gain no ``Vary: Cookie``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.SESSION_COOKIE_NAME in request.COOKIES
            and request.user.is_authenticated
            and "no-store" not in response.get("Cache-Control", "")
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response


class CustomerPageGZipMiddleware(GZipMiddleware):
    """Gzip the pages customers open from an SMS (portal ``/p/``, booking ``/book/``, review
    links ``/r/``), and nothing else.

    Compression is unsafe where a page holds a secret *and* reflects what a cross-site attacker
    puts in the request (BREACH): the attacker makes the victim's browser ask for the page many
    times and reads the secret from the compressed lengths. On these pages it can't be done:
    a portal or review page is only reached with its secret token in the URL, so whoever can
    make the browser ask for it knows the secret already; the booking page holds no secret but
    Django's CSRF token, which is masked afresh on every response; and Django's
    ``GZipMiddleware`` pads each response with random bytes ("Heal The Breach") besides. The
    dashboard (logged-in pages whose lists echo a search box) stays uncompressed here: put it
    behind a proxy that compresses it if you accept that trade, see README "Security".
    """

    PREFIXES = ("/p/", "/book/", "/r/")

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not request.path.startswith(self.PREFIXES):
            return response
        return super().process_response(request, response)


# Public pages a visitor reaches with no customer known yet: they follow the browser's
# Accept-Language. Portal pages (/p/) switch to the customer's language in
# portal.middleware; /pay/ and /r/ pages to their customer's in their views.
BROWSER_LANGUAGE_PREFIXES = ("/book/", "/p/", "/pay/", "/r/")


class LanguageMiddleware:
    """English everywhere (the dashboard stays English for now), except where a customer is
    served: public pages before we know the customer follow ``Accept-Language``; the pages of a
    known customer then switch to that customer's language (``customer_language``). Unlike
    Django's LocaleMiddleware, a French browser never turns the dashboard half-French."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        browser = request.path_info.startswith(BROWSER_LANGUAGE_PREFIXES)
        language = (
            translation.get_language_from_request(request) if browser else settings.LANGUAGE_CODE
        )
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        if browser:
            patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        translation.deactivate()
        return response
