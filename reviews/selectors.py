"""Reads for review pages: the landing page's one lookup, a customer's review state, and the
dashboard's figures. Company-scoped (the token lookup is scoped by its secret), constant queries
per page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from crewcommand.lib.pagecache import row_digest
from crewcommand.lib.prepared import prepared
from crewcommand.lib.recent import Recent
from crewcommand.models import Company, Customer
from reviews.models import DEFAULT_REQUEST_EVERY_DAYS, ReviewOptOut, ReviewRequest, ReviewSettings
from reviews.tokens import token_hash


@dataclass(frozen=True)
class Eligibility:
    """Whether a review request may be sent to a customer now, and if not, why (safe to show)."""

    ok: bool
    reason: str = ""


def request_every_days(company: Company) -> int:
    found = ReviewSettings.objects.filter(company=company).values_list(
        "request_every_days", flat=True
    )
    return next(iter(found), DEFAULT_REQUEST_EVERY_DAYS)


def latest_request(customer: Customer) -> ReviewRequest | None:
    return ReviewRequest.objects.filter(customer=customer).order_by("-created_at", "-id").first()


def eligibility(*, customer: Customer, now: dt.datetime | None = None) -> Eligibility:
    """May this customer be asked for a review now? (Email aside: see ``review_request_send``.)"""
    now = now or timezone.now()
    if ReviewOptOut.objects.filter(customer=customer).exists():
        return Eligibility(False, _("This customer asked not to be asked for reviews."))
    # Across all the customer's requests, not only the latest: an older request may have been
    # sent late in its window, and a click on any of them ends the asking.
    history = ReviewRequest.objects.filter(customer=customer).aggregate(
        last_sent=Max("sent_at"), clicks=Count("pk", filter=Q(click_count__gt=0))
    )
    if history["clicks"]:
        return Eligibility(False, _("This customer already followed your review link."))
    days = request_every_days(customer.company)
    last_sent = history["last_sent"]
    if last_sent is not None and last_sent > now - dt.timedelta(days=days):
        again = timezone.localtime(last_sent + dt.timedelta(days=days))
        return Eligibility(
            False,
            _("Already asked on %(sent)s; you can ask again from %(again)s.")
            % {
                "sent": date_format(timezone.localtime(last_sent), "M j, Y"),
                "again": date_format(again, "M j, Y"),
            },
        )
    return Eligibility(True)


# What the landing page shows of the company (layouts/portal.html): only these are read, so the
# page's one query stays small.
LANDING_COMPANY_FIELDS = (
    "name",
    "logo",
    "brand_color",
    "google_review_url",
    "phone",
    "email",
    "website",
    "address_line1",
    "city",
)


@sensitive_variables("token")
def request_for_token(token: str) -> ReviewRequest | None:
    """The request a token opens, with its company; None for any other token. Whatever the
    token's shape, it is hashed and one indexed query runs, so every miss costs the same."""
    return _BY_TOKEN.first(token_hash(token))


_RECENT = Recent()


@sensitive_variables("token")
def request_for_token_recent(token: str) -> tuple[ReviewRequest, str] | None:
    """``request_for_token`` for the landing page (a GET that writes nothing to the
    database), with every field of the request's company as a digest (the page cache's key
    part, ``crewcommand.lib.pagecache.row_digest``): a request this process found by the same
    token's hash less than ``PUBLIC_ROW_SECONDS`` ago is used again without a query
    (``crewcommand.lib.recent``; keyed by the hash, never the token). A token that opens
    nothing is hashed and looked up every time, exactly as before. The click and feedback
    pages use ``request_for_token``."""
    digest = token_hash(token)
    return _RECENT.get(digest, lambda: _with_company_state(_BY_TOKEN.first(digest)))


def _with_company_state(review: ReviewRequest | None) -> tuple[ReviewRequest, str] | None:
    return None if review is None else (review, row_digest(review.company))


# Compiled once (crewcommand.lib.prepared): every review page and click runs it.
_BY_TOKEN = prepared(
    lambda digest: (
        ReviewRequest.objects.select_related("company", "customer")
        .only(
            "pk",
            "customer__language",
            *(f"company__{name}" for name in (*LANDING_COMPANY_FIELDS, "default_language")),
        )
        .filter(token_hash=digest)
    )
)


@dataclass(frozen=True)
class CustomerReviews:
    latest: ReviewRequest | None
    opted_out: bool


def customer_reviews(*, company: Company, customer: Customer) -> CustomerReviews:
    latest = (
        ReviewRequest.objects.filter(company=company, customer=customer)
        .order_by("-created_at", "-id")
        .first()
    )
    opted_out = ReviewOptOut.objects.filter(company=company, customer=customer).exists()
    return CustomerReviews(latest=latest, opted_out=opted_out)


@dataclass(frozen=True)
class Totals:
    sent: int
    opened: int
    clicked: int

    @property
    def click_rate(self) -> int | None:
        """Clicked as a whole percentage of sent (None when nothing was sent)."""
        return round(100 * self.clicked / self.sent) if self.sent else None

    def bars(self) -> list[tuple[str, int, int]]:
        """``(label key, count, width in percent of sent)`` for the server-drawn bar chart."""
        top = max(self.sent, self.opened, self.clicked, 1)
        return [
            (key, value, round(100 * value / top))
            for key, value in (
                ("sent", self.sent),
                ("opened", self.opened),
                ("clicked", self.clicked),
            )
        ]


def totals(*, company: Company, since: dt.datetime | None = None) -> Totals:
    """Requests sent, opened and clicked (each request counted once), in one query."""
    rows = ReviewRequest.objects.filter(company=company)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    figures = rows.aggregate(
        sent=Count("pk", filter=Q(sent_at__isnull=False)),
        opened=Count("pk", filter=Q(first_opened_at__isnull=False)),
        clicked=Count("pk", filter=Q(first_clicked_at__isnull=False)),
    )
    return Totals(sent=figures["sent"], opened=figures["opened"], clicked=figures["clicked"])


def per_customer(*, company: Company) -> QuerySet[Customer]:
    """Every customer with a review request, with their figures, most recent first: one query
    (plus the paginator's count)."""
    return (
        Customer.objects.filter(company=company, review_requests__isnull=False)
        .annotate(
            reviews_sent=Sum("review_requests__send_count"),
            reviews_opened=Sum("review_requests__open_count"),
            reviews_clicked=Sum("review_requests__click_count"),
            reviews_requests=Count("review_requests"),
            reviews_last_sent=Max("review_requests__sent_at"),
            reviews_last_click=Max("review_requests__last_clicked_at"),
            reviews_latest=Max("review_requests__created_at"),
        )
        .order_by("-reviews_latest", "name")
    )


def panel(*, company: Company, customer: Customer, job=None) -> dict:
    """What the review panel of a customer or job page shows (``reviews/_panel.html``): the
    customer's latest request, whether they opted out, whether they may be asked now, and
    whether the company has a Google review link. Constant queries."""
    return {
        "customer": customer,
        "job": job,
        "reviews": customer_reviews(company=company, customer=customer),
        "verdict": eligibility(customer=customer),
        "google_set": bool(company.google_review_url),
    }
