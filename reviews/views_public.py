"""The customer's review pages: ``/r/<token>/`` (thanks, and a button to Google) and
``/r/<token>/go/`` (records the click, then sends the browser to Google).

No write on GET. Both pages are reached by plain navigation (a link in an email or SMS, then a
button), so both are GETs: the opening is counted in the cache and written by the worker in
one UPDATE per burst (``reviews.openings``, like portal views), the click is handed to a Celery
task after commit (``reviews.tasks``), and the response never waits on either. We chose that over a POST button:
the landing page sends ``Referrer-Policy: no-referrer`` (its URL is the secret), so browsers
post from it with ``Origin: null``, which Django's CSRF check refuses; a CSRF-exempt POST would
let any site count clicks for a token it knew, and a GET that hands the write to the worker
keeps the button a real link that works without JavaScript. HEAD requests, browser prefetches
and known link scanners (``portal.http.is_prefetch``) record nothing.

Every token, whatever its shape, is hashed and looked up once (the landing page skips the
query for a token whose request this process found less than ``PUBLIC_ROW_SECONDS`` ago,
``selectors.request_for_token_recent``; the click and feedback pages always look it up; an
unknown token is looked up every time). An unknown token gets the same
generic "this link doesn't work" page as an unknown portal link (404, names nothing); past the
portal's per-address limit of misses, a 429. There is no dead-but-known state: a review link
works for as long as its row exists.

Review gating is not done, on purpose: everyone gets the same button to the same Google page.
The optional private feedback page (``/r/<token>/feedback/``, linked *below* the button) shows
the same Google button again; writing to the company there never replaces it. It is the one
page here with a form, so it is the one with ``Referrer-Policy: same-origin`` instead of
``no-referrer``: under no-referrer browsers post with ``Origin: null``, which Django's CSRF check
refuses, while same-origin sends the page's URL only back to us (whose logs redact it) and
nothing to any other site. Its POST is CSRF-protected and limited per link.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_safe

from crewcommand.lib import pagecache
from crewcommand.lib.colour import accent_on_white
from portal import http
from reviews import openings, selectors, services, tasks
from reviews.forms import FeedbackForm
from reviews.models import ReviewRequest

FEEDBACK_PER_HOUR = 5
PRIVATE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}


def private(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Every answer under /r/ (pages, 404s, 405s, the redirect to Google) is private: not
    cached, not indexed, and without a Referer, unless the view chose a policy itself (the
    redirect to Google, which may show our origin)."""

    @wraps(view)
    def wrapper(request: HttpRequest, token: str) -> HttpResponse:
        response = view(request, token)
        for name, value in PRIVATE_HEADERS.items():
            response.setdefault(name, value)
        return response

    return wrapper


def _not_found(request: HttpRequest) -> HttpResponse:
    """The answer for every token that opens nothing: counted per address, one page."""
    bucket = http.client_bucket(request)
    attempts = http.rate_hit("review-invalid", bucket, window=settings.PORTAL_INVALID_LINK_WINDOW)
    if attempts > settings.PORTAL_INVALID_LINK_LIMIT:
        response = render(request, "portal/invalid.html", {"limited": True}, status=429)
        response["Retry-After"] = str(settings.PORTAL_INVALID_LINK_WINDOW)
        return response
    return render(request, "portal/invalid.html", {}, status=404)


def _google_url(review: ReviewRequest) -> str:
    url = review.company.google_review_url
    return url if url.startswith(("https://", "http://")) else ""


def _later(task, request: HttpRequest, review: ReviewRequest) -> None:
    if not http.is_prefetch(request):
        task.delay_on_commit(request_id=review.pk, at=timezone.now().isoformat())


@private
@require_safe
@sensitive_variables("token")
def landing(request: HttpRequest, token: str) -> HttpResponse:
    found = selectors.request_for_token_recent(token)
    if found is None:
        return _not_found(request)
    review, company_state = found
    if not http.is_prefetch(request):
        openings.note_open(request_id=review.pk)
    if not pagecache.usable(request):
        return render(request, "reviews/landing.html", _context(review, token))
    # The same page for every customer of the company in one language, but for the token in
    # its links (cut out, never stored): the page cache, keyed by the company fields it shows
    # and the language (activated first); the context is only built for a render.
    _activate_language(review)
    return pagecache.cached_page(
        request,
        namespace="review",
        key=(company_state,),
        render=lambda: render(request, "reviews/landing.html", _context(review, token)),
        secrets_={"token": token},
    )


def _activate_language(review: ReviewRequest) -> None:
    # The page is in the customer's language (their choice, else the company's).
    translation.activate(review.customer.language or review.company.default_language)


def _context(review: ReviewRequest, token: str) -> dict:
    company = review.company
    _activate_language(review)
    return {
        "company": company,
        "portal": {"accent": accent_on_white(company.brand_color)},
        "google_url": _google_url(review),
        "go_url": reverse("reviews:go", args=[token]),
        "feedback_url": reverse("reviews:feedback", args=[token]),
    }


@private
@require_http_methods(["GET", "HEAD", "POST"])
@sensitive_variables("token")
def feedback(request: HttpRequest, token: str) -> HttpResponse:
    """The optional private note to the company, with the Google button kept beside it."""
    review = selectors.request_for_token(token)
    if review is None:
        return _not_found(request)
    form = FeedbackForm(request.POST if request.method == "POST" else None)
    sent = False
    if request.method == "POST" and form.is_valid():
        if http.rate_hit("review-feedback", str(review.pk), window=3600) <= FEEDBACK_PER_HOUR:
            services.review_feedback_record(request=review, message=form.cleaned_data["message"])
            sent, form = True, FeedbackForm()
        else:
            form.add_error(None, _("Thanks, we have your messages. Please call or email us."))
    context = {**_context(review, token), "form": form, "sent": sent}
    response = render(request, "reviews/feedback.html", context)
    response["Referrer-Policy"] = "same-origin"
    return response


@private
@require_safe
@sensitive_variables("token")
def go(request: HttpRequest, token: str) -> HttpResponse:
    """Record the click (in the worker) and send the browser on to the company's Google page.
    This response may let Google see our origin, never the path (which holds the token)."""
    review = selectors.request_for_token(token)
    if review is None:
        return _not_found(request)
    google = _google_url(review)
    if not google:  # no Google page set: back to the thank-you page, nothing recorded
        return HttpResponseRedirect(reverse("reviews:landing", args=[token]))
    _later(tasks.record_review_click, request, review)
    response = HttpResponseRedirect(google)
    response["Referrer-Policy"] = "origin"
    return response
