"""Reads for booking: the public page's company and settings (one query whatever the company's
size), the inbox and its counts, a request with its photos, and the customers a request may be.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from booking.models import (
    DEFAULT_CLOSES_AT,
    DEFAULT_OPEN_DAYS,
    DEFAULT_OPENS_AT,
    BookingSettings,
    RequestStatus,
    ServiceRequest,
    ServiceRequestPhoto,
    Window,
)
from crewcommand.lib.colour import accent_on_white
from crewcommand.lib.pagecache import row_digest
from crewcommand.lib.prepared import one_row, prepared
from crewcommand.lib.recent import Recent
from crewcommand.models import Company, Customer, Job

# How far ahead a customer may ask for a day, and how many days the form lists.
DAYS_AHEAD = 21
DAYS_LISTED = 12
NOON = dt.time(12)


def booking_url(company: Company) -> str:
    """The company's public booking page as an absolute URL, from ``SITE_URL`` (never the
    request's Host): what ``{booking_link}`` becomes in messages and the settings page shows."""
    return settings.SITE_URL.rstrip("/") + reverse("booking_public:book", args=[company.slug])


@dataclass
class BookingPage:
    """What the public page and the portal's request form need to know about a company."""

    company: Company
    enabled: bool = True
    services: list[str] = field(default_factory=list)
    open_days: list[int] = field(default_factory=lambda: list(DEFAULT_OPEN_DAYS))
    opens_at: dt.time = DEFAULT_OPENS_AT
    closes_at: dt.time = DEFAULT_CLOSES_AT
    intro: str = ""

    @property
    def accent(self) -> str:
        return accent_on_white(self.company.brand_color)

    @property
    def windows(self) -> list[tuple[str, str]]:
        """The time windows the company's hours allow: morning (before noon), afternoon (from
        noon), and "any time"."""
        found: list[tuple[str, str]] = []
        if self.opens_at < NOON:
            label = _("Morning (%(start)s–%(end)s)") % {  # noqa: RUF001
                "start": _hour(self.opens_at),
                "end": _hour(min(NOON, self.closes_at)),
            }
            found.append((Window.MORNING, label))
        if self.closes_at > NOON:
            label = _("Afternoon (%(start)s–%(end)s)") % {  # noqa: RUF001
                "start": _hour(max(NOON, self.opens_at)),
                "end": _hour(self.closes_at),
            }
            found.append((Window.AFTERNOON, label))
        found.append((Window.ANY, str(Window.ANY.label)))
        return found

    def days(self, today: dt.date) -> list[dt.date]:
        """The next open days a customer may choose (from tomorrow)."""
        open_days = set(self.open_days) or set(DEFAULT_OPEN_DAYS)
        days = []
        for offset in range(1, DAYS_AHEAD + 1):
            day = today + dt.timedelta(days=offset)
            if day.weekday() in open_days:
                days.append(day)
        return days[:DAYS_LISTED]

    @property
    def hours_text(self) -> str:
        names = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
        days = sorted(set(self.open_days) or set(DEFAULT_OPEN_DAYS))
        if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            span = f"{names[days[0]]}\u2013{names[days[-1]]}"
        else:
            span = ", ".join(str(names[d]) for d in days)
        return f"{span} · {_hour(self.opens_at)}\u2013{_hour(self.closes_at)}"


def _hour(value: dt.time) -> str:
    return f"{value.hour}:{value.minute:02d}"


def page_from(company: Company) -> BookingPage:
    """The booking page of a company whose ``booking_settings`` is already loaded (or missing)."""
    try:
        row: BookingSettings | None = company.booking_settings
    except BookingSettings.DoesNotExist:
        row = None
    if row is None:
        return BookingPage(company=company)
    return BookingPage(
        company=company,
        enabled=row.enabled,
        services=row.service_list,
        open_days=list(row.open_days or DEFAULT_OPEN_DAYS),
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        intro=row.intro,
    )


# Every visit's one query, compiled once (crewcommand.lib.prepared).
_BY_SLUG = prepared(
    lambda slug: Company.objects.select_related("booking_settings").filter(slug=slug)
)


def public_page(*, slug: str) -> BookingPage:
    """The booking page for ``slug`` in one query; 404 for an unknown slug or a page turned off."""
    company = _BY_SLUG.first(slug) if len(slug) <= 60 else None
    if company is None:
        raise Http404
    page = page_from(company)
    if not page.enabled:
        raise Http404
    return page


_RECENT = Recent()


def public_page_recent(*, slug: str) -> tuple[BookingPage, str]:
    """``public_page`` for a GET of the page, with ``page_state`` of it: an enabled page found
    less than ``PUBLIC_ROW_SECONDS`` ago by this process is used again without a query
    (``crewcommand.lib.recent``: a change shows at most that late). Unknown slugs and pages
    turned off are looked up every time. Not for writes: a POST uses ``public_page``."""
    found = _RECENT.get(slug, lambda: _enabled_page(slug))
    if found is None:
        raise Http404
    return found


def _enabled_page(slug: str) -> tuple[BookingPage, str] | None:
    try:
        page = public_page(slug=slug)
    except Http404:
        return None
    return page, page_state(page)


def page_state(page: BookingPage) -> str:
    """Every field of the company's and its booking settings' rows, as a digest (the page
    cache's key part for the page, ``crewcommand.lib.pagecache.row_digest``)."""
    return row_digest(page.company, getattr(page.company, "booking_settings", None))


def settings_for(*, company: Company) -> BookingSettings:
    """The company's settings row, unsaved with the defaults when it has none yet."""
    row = BookingSettings.objects.filter(company=company).first()
    return row or BookingSettings(company=company, open_days=list(DEFAULT_OPEN_DAYS))


def inbox(*, company: Company, status: str) -> QuerySet[ServiceRequest]:
    return (
        ServiceRequest.objects.filter(company=company, status=status)
        .select_related("customer", "job")
        .annotate(photo_count=Count("photos"))
        .order_by("-created_at", "-id")
    )


def counts(*, company: Company) -> dict[str, int]:
    """How many requests in each status, in one query."""
    row = ServiceRequest.objects.filter(company=company).aggregate(
        **{s: Count("pk", filter=Q(status=s)) for s in RequestStatus.values}
    )
    return {s: row[s] or 0 for s in RequestStatus.values}


_new_count = prepared(
    lambda company_id: one_row(
        ServiceRequest.objects.filter(company_id=company_id, status=RequestStatus.NEW),
        count=Count("pk"),
    ),
    -7_000_000_001,
)


def new_count(company: Company) -> int:
    """The sidebar's badge: requests nobody has handled yet (on every dashboard page, so
    compiled once)."""
    return _new_count.first(company.pk)["count"]


def request_get(*, company: Company, public_id: str) -> ServiceRequest:
    return get_object_or_404(
        ServiceRequest.objects.select_related(
            "customer", "job", "handled_by__user"
        ).prefetch_related("photos"),
        company=company,
        public_id=public_id,
    )


def photo_get(*, company: Company, request_id: str, photo_id: str) -> ServiceRequestPhoto:
    return get_object_or_404(
        ServiceRequestPhoto,
        request__company=company,
        request__public_id=request_id,
        public_id=photo_id,
    )


def matching_customers(*, request: ServiceRequest) -> list[Customer]:
    """Existing customers the requester may be: the same email (any case) or the same phone."""
    if request.customer_id:
        return [request.customer] if request.customer else []
    match = Q(pk__in=[])
    if request.email:
        match |= Q(email__iexact=request.email)
    if request.phone:
        match |= Q(phone=request.phone)
    return list(Customer.objects.filter(match, company=request.company).order_by("name")[:10])


def customer_addresses(*, customer: Customer) -> list[str]:
    """The customer's own address and those of their jobs, each once, newest jobs first."""
    found = [customer.address] if customer.address else []
    job_addresses = (
        Job.objects.filter(company_id=customer.company_id, customer=customer)
        .exclude(address="")
        .order_by("-created_at")
        .values_list("address", flat=True)[:20]
    )
    for address in job_addresses:
        if address not in found:
            found.append(address)
    return found[:5]
