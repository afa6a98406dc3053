"""The public booking page, ``/book/<company-slug>/``: no login, no token. One query for the
company and its booking settings on GET, whatever the company's size (none when this process
looked the slug up less than ``PUBLIC_ROW_SECONDS`` ago: ``selectors.public_page_recent``);
unknown slugs and pages turned off are a plain 404.

A POST goes through, in order: the per-address attempt limit, the honeypot (a bot that filled
it is answered like a person, and nothing is stored), the form's validation, the per-address
and per-company limits on recorded requests, then ``services.request_submit``; then a redirect
to the confirmation page (POST-redirect-GET)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from booking import limits, selectors, services
from booking.forms import RequestForm
from booking.models import RequestSource
from booking.selectors import BookingPage
from crewcommand.errors import ServiceError
from crewcommand.lib import pagecache
from crewcommand.lib.http import client_bucket, client_ip

# The page holds a CSRF token and, after a failed post, what the visitor typed: not for caches.
PUBLIC_HEADERS = {"Cache-Control": "no-store"}


def _today(page: BookingPage):
    timezone.activate(page.company.timezone)
    return timezone.localdate()


def request_in(form: RequestForm) -> services.RequestIn:
    data = form.cleaned_data
    return services.RequestIn(
        name=data["name"],
        phone=data["phone"],
        email=data.get("email") or "",
        address=data["address"],
        service=form.service_name(),
        description=data.get("description") or "",
        preferred=form.preferred(),
        marketing_email=bool(data.get("marketing_email")),
        marketing_sms=bool(data.get("marketing_sms")),
        # The page's language (the browser's, see crewcommand.middleware.LanguageMiddleware).
        language=translation.get_language() or settings.LANGUAGE_CODE,
    )


def _limited(request: HttpRequest, page: BookingPage) -> bool:
    address = client_bucket(request)
    return limits.is_full(request, "ip", address) or limits.is_full(
        request, "company", page.company.public_id
    )


def _submit(request: HttpRequest, page: BookingPage, form: RequestForm) -> None:
    services.request_submit(
        company=page.company,
        data=request_in(form),
        photos=form.cleaned_data.get("photos") or [],
        source=RequestSource.BOOKING_PAGE,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    limits.hit(request, "ip", client_bucket(request))
    limits.hit(request, "company", page.company.public_id)


@require_http_methods(["GET", "HEAD", "POST"])
def book(request: HttpRequest, slug: str) -> HttpResponse:
    if request.method != "POST" and not request.GET and pagecache.usable(request):
        # The empty form: the company as this process saw it within PUBLIC_ROW_SECONDS.
        page, state = selectors.public_page_recent(slug=slug)
        return _cached_page(request, page, _today(page), state)
    page = selectors.public_page(slug=slug)
    today = _today(page)
    if request.method != "POST":
        return _page(request, page, RequestForm(page=page, today=today))
    form = RequestForm(request.POST, request.FILES, page=page, today=today)
    if limits.hit(request, "attempts", client_bucket(request)):
        form.is_valid()
        form.add_error(None, _("Too many attempts from your connection. Please call us instead."))
        return _page(request, page, form, status=429)
    if form.is_spam:
        return redirect("booking_public:sent", slug=page.company.slug)
    if form.is_valid():
        if _limited(request, page):
            form.add_error(
                None, _("We've received many requests just now. Please call us or try later.")
            )
            return _page(request, page, form, status=429)
        try:
            _submit(request, page, form)
        except ServiceError as error:
            form.add_error(None, str(error))
            return _page(request, page, form)
        return redirect("booking_public:sent", slug=page.company.slug)
    return _page(request, page, form)


def _cached_page(request: HttpRequest, page: BookingPage, today, state: str) -> HttpResponse:
    """The empty form, the same for every visitor of a company in one language on one day:
    rendered once into the page cache (``crewcommand.lib.pagecache``), keyed by the company's
    and its booking settings' rows (every field: ``state``, ``selectors.page_state``), the day
    (the dates offered) and the language; the CSRF token (masked afresh per answer) and the CSP
    nonce are put in per answer."""
    response = pagecache.cached_page(
        request,
        namespace="booking",
        key=(today, state),
        render=lambda: _page(request, page, RequestForm(page=page, today=today)),
    )
    for name, value in PUBLIC_HEADERS.items():
        response[name] = value
    return response


def _page(request: HttpRequest, page: BookingPage, form: RequestForm, status: int = 200):
    context = {"page": page, "company": page.company, "form": form}
    response = render(request, "booking/book.html", context, status=status)
    for name, value in PUBLIC_HEADERS.items():
        response[name] = value
    return response


@require_safe
def sent(request: HttpRequest, slug: str) -> HttpResponse:
    page = selectors.public_page(slug=slug)
    context = {"page": page, "company": page.company}
    response = render(request, "booking/sent.html", context)
    for name, value in PUBLIC_HEADERS.items():
        response[name] = value
    return response
