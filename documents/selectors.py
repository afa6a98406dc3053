"""Reads for the documents pages, scoped to a company, with a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncWeek
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from crewcommand.lib.listing import PAGE_SIZE
from crewcommand.lib.money import ZERO, quantize_money
from crewcommand.lib.prepared import attach_prefetched, one_row, prepared
from crewcommand.models import Company, Customer, Job
from crewcommand.selectors import clean_query
from documents.models import (
    OPEN_ESTIMATE_STATUSES,
    OPEN_INVOICE_STATUSES,
    Estimate,
    EstimateRevision,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
    LineItem,
    LineKind,
)

# Placeholders the home's reads are compiled with (``crewcommand.lib.prepared``): values no
# real query holds.
_COMPANY = -7_000_000_001
_DAY = dt.date(1001, 1, 1)
_MOMENT = dt.datetime(1001, 1, 1, tzinfo=dt.UTC)

_NUMBER = re.compile(r"^(?:est|inv)?[-\s#]*0*(\d{1,9})$", re.IGNORECASE)


def _search(qs: QuerySet, query: str, *, company: Company) -> QuerySet:
    """By number or by the customer's name. The name is matched among the company's own
    customers (a subquery on their company index and trigram index), not joined across every
    tenant's. A query that could be a number looks both ways as a UNION of two index lookups
    (``(company, number)``, and the invoices of the customers found): an ``OR`` of the two
    made PostgreSQL walk every document of the company (24 ms at 20,000 invoices, growing
    with the company; ``bench/search_scale.py --big-tenant``)."""
    if not (query := clean_query(query)):
        return qs
    customers = Customer.objects.filter(company=company, name__icontains=query).values("pk")
    if not (match := _NUMBER.match(query)):
        return qs.filter(customer__in=customers)
    rows = qs.model.objects.filter(company=company)
    by_name = rows.filter(customer__in=customers).values("pk")
    by_number = rows.filter(number=int(match.group(1))).values("pk")
    return qs.filter(pk__in=by_name.union(by_number))


def _live_q() -> Q:
    return Q(status__in=OPEN_ESTIMATE_STATUSES)


def _expired_q(today: dt.date | None = None) -> Q:
    """Open estimates (sent, viewed, changes requested) past their valid-until date (``Estimate.display_status``)."""
    today = timezone.localdate() if today is None else today
    return _live_q() & Q(current_revision__valid_until__lt=today)


def with_figures(qs: QuerySet[Estimate]) -> QuerySet[Estimate]:
    """Estimates ready for ``Estimate.figures`` (total and deposit, with the customer's choices
    once accepted): the revisions it reads and their lines, in two queries for any number of
    rows (the accepted revision's only when a row on the page is accepted)."""
    return qs.select_related("current_revision", "accepted_revision").prefetch_related(
        "current_revision__lines", "accepted_revision__lines"
    )


def estimate_list(*, company: Company, status: str = "", query: str = "") -> QuerySet[Estimate]:
    qs = with_figures(Estimate.objects.filter(company=company).select_related("customer"))
    expired = _expired_q()
    if status == EstimateStatus.EXPIRED:
        qs = qs.filter(expired)
    elif status in OPEN_ESTIMATE_STATUSES:
        qs = qs.filter(status=status).exclude(expired)
    elif status in EstimateStatus.values:
        qs = qs.filter(status=status)
    return _search(qs, query, company=company).order_by("-number")


def estimate_get(*, company: Company, public_id: str) -> Estimate:
    return get_object_or_404(
        Estimate.objects.select_related(
            "customer", "job", "current_revision", "accepted_revision", "company"
        ),
        company=company,
        public_id=public_id,
    )


def revision_get(*, estimate: Estimate, number: int) -> EstimateRevision:
    return get_object_or_404(EstimateRevision, estimate=estimate, number=number)


def package_names(*, revision_id: int | None) -> list[str]:
    """The packages (groups of package options) on a revision's lines, in the order they first
    appear: what the line editor offers to choose from."""
    names = LineItem.objects.filter(revision_id=revision_id, kind=LineKind.CHOICE).order_by(
        "position", "id"
    )
    return list(dict.fromkeys(names.values_list("group", flat=True)))


def _balance() -> ExpressionWrapper:
    return ExpressionWrapper(
        F("total") - F("deposit_credit") - F("amount_paid"),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def _overdue_q(today: dt.date | None = None) -> Q:
    today = timezone.localdate() if today is None else today
    return Q(status__in=OPEN_INVOICE_STATUSES, due_date__lt=today) & Q(
        total__gt=F("deposit_credit") + F("amount_paid")
    )


def invoice_list(*, company: Company, status: str = "", query: str = "") -> QuerySet[Invoice]:
    qs = Invoice.objects.filter(company=company).select_related("customer")
    if status == "overdue":
        qs = qs.filter(_overdue_q())
    elif status in {InvoiceStatus.SENT, InvoiceStatus.VIEWED, InvoiceStatus.PARTIALLY_PAID}:
        qs = qs.filter(status=status).exclude(_overdue_q())
    elif status in InvoiceStatus.values:
        qs = qs.filter(status=status)
    return _search(qs, query, company=company).order_by("-number")


def _summary_query(company_id: int, today: dt.date) -> QuerySet:
    zero = Value(ZERO, output_field=DecimalField(max_digits=14, decimal_places=2))
    open_invoices = Invoice.objects.filter(company_id=company_id, status__in=OPEN_INVOICE_STATUSES)
    return one_row(
        open_invoices,
        outstanding=Coalesce(Sum(_balance()), zero),
        overdue=Coalesce(Sum(_balance(), filter=_overdue_q(today)), zero),
        overdue_count=Count("pk", filter=_overdue_q(today)),
    )


_summary = prepared(_summary_query, _COMPANY, _DAY)


_invoice_count = prepared(
    lambda company_id: one_row(Invoice.objects.filter(company_id=company_id), count=Count("pk")),
    _COMPANY,
)
# Pages of the unfiltered list compiled so far, by offset (the first ``_PREPARED_PAGES`` only:
# OFFSET is part of the SQL, so each page is its own query).
_invoice_pages: dict[int, Any] = {}
_PREPARED_PAGES = 40


class InvoicePages:
    """``invoice_list(company=company)`` (every invoice, newest first) as the list page's
    paginator reads it: the count and one page at a time, through queries compiled once. The
    same rows in the same order as the queryset (``tests/core/test_home_reads.py``)."""

    ordered = True  # for the paginator's check

    def __init__(self, company: Company) -> None:
        self.company = company

    def count(self) -> int:
        return _invoice_count.first(self.company.pk)["count"]

    def __getitem__(self, window: slice) -> list[Invoice]:
        """A page of rows: one of the first pages through its compiled query (cut to the
        window on the last page: numbers are unique per company, so the order is total),
        anything else through the queryset."""
        start, stop = window.start or 0, window.stop
        if (
            window.step is not None
            or stop is None
            or not 0 < stop - start <= PAGE_SIZE
            or start % PAGE_SIZE
            or start >= PAGE_SIZE * _PREPARED_PAGES
        ):
            return list(invoice_list(company=self.company)[window])
        lookup = _invoice_pages.get(start)
        if lookup is None:
            lookup = _invoice_pages[start] = prepared(
                lambda c: invoice_list_rows(c)[start : start + PAGE_SIZE], _COMPANY
            )
        return lookup.all(self.company.pk)[: stop - start]


def invoice_list_rows(company_id: int) -> QuerySet[Invoice]:
    """``invoice_list`` unfiltered, by company id."""
    return (
        Invoice.objects.filter(company_id=company_id).select_related("customer").order_by("-number")
    )


def invoice_summary(*, company: Company) -> dict[str, Decimal]:
    """Outstanding and overdue balances over all open invoices, in one query (compiled once).
    Amounts to the cent, as ``aggregate()`` gave them on every database (SQLite's sums of an
    expression come back unscaled: ``0`` for ``0.00``)."""
    row = _summary.first(company.pk, timezone.localdate())
    return {
        "outstanding": quantize_money(row["outstanding"]),
        "overdue": quantize_money(row["overdue"]),
        "overdue_count": row["overdue_count"],
    }


def invoice_get(*, company: Company, public_id: str) -> Invoice:
    return get_object_or_404(
        Invoice.objects.select_related("customer", "job", "estimate", "company"),
        company=company,
        public_id=public_id,
    )


def documents_for_job(*, job: Job) -> dict[str, list]:
    return {
        "estimates": list(with_figures(Estimate.objects.filter(company=job.company, job=job))),
        "invoices": list(Invoice.objects.filter(company=job.company, job=job)),
    }


def _awaiting(company_id: int, today: dt.date) -> QuerySet[Estimate]:
    return (
        Estimate.objects.filter(_live_q(), company_id=company_id)
        .exclude(_expired_q(today))
        .select_related("current_revision", "accepted_revision", "customer")
        .order_by("sent_at")
    )


_awaiting_first = prepared(lambda c, today: _awaiting(c, today)[:8], _COMPANY, _DAY)
_awaiting_count = prepared(
    lambda c, today: one_row(_awaiting(c, today), count=Count("pk")), _COMPANY, _DAY
)
_overdue_first = prepared(
    lambda c, today: (
        Invoice.objects.filter(company_id=c)
        .filter(_overdue_q(today))
        .select_related("customer")
        .order_by("due_date")[:8]
    ),
    _COMPANY,
    _DAY,
)


# The lines of the revisions the first eight awaited estimates show (current and accepted),
# in the lines' own order: what ``with_figures`` prefetches for them.
_awaiting_lines = prepared(
    lambda c, today: LineItem.objects.filter(
        Q(revision__in=_awaiting(c, today)[:8].values("current_revision_id"))
        | Q(revision__in=_awaiting(c, today)[:8].values("accepted_revision_id"))
    ),
    _COMPANY,
    _DAY,
)


def attention(*, company: Company) -> dict[str, Any]:
    """What needs a contractor today: answers awaited, overdue invoices, the first few of each
    and how many there are, and the lines of the estimates shown for their totals as
    ``with_figures`` reads them (four queries, compiled once)."""
    today = timezone.localdate()
    awaiting = _awaiting_first.all(company.pk, today)
    lines: dict[int, list[LineItem]] = {}
    for line in _awaiting_lines.all(company.pk, today) if awaiting else []:
        lines.setdefault(line.revision_id, []).append(line)
    for estimate in awaiting:
        for revision in (estimate.current_revision, estimate.accepted_revision):
            if revision is not None:
                attach_prefetched(revision, "lines", lines.get(revision.pk, []))
    return {
        "awaiting": awaiting,
        "awaiting_count": _awaiting_count.first(company.pk, today)["count"],
        "overdue": _overdue_first.all(company.pk, today),
    }


def _funnel_query(company_id: int, since: dt.datetime) -> QuerySet:
    paid = Invoice.objects.filter(estimate=OuterRef("pk"), status=InvoiceStatus.PAID)
    return one_row(
        Estimate.objects.filter(company_id=company_id, sent_at__gte=since).annotate(
            was_paid=Exists(paid)
        ),
        sent=Count("pk"),
        viewed=Count(
            "pk",
            filter=Q(viewed_at__isnull=False)
            | Q(status__in=[EstimateStatus.CHANGES_REQUESTED, EstimateStatus.ACCEPTED]),
        ),
        accepted=Count("pk", filter=Q(status=EstimateStatus.ACCEPTED)),
        paid=Count("pk", filter=Q(was_paid=True)),
    )


_funnel = prepared(_funnel_query, _COMPANY, _MOMENT)


def funnel(*, company: Company, days: int = 30) -> list[tuple[str, int]]:
    """Estimates sent in the last ``days`` and how far they got: viewed, accepted, paid (one
    query, compiled once)."""
    counts = _funnel.first(company.pk, timezone.now() - dt.timedelta(days=days))
    return [
        (_("Sent"), counts["sent"]),
        (_("Viewed"), counts["viewed"]),
        (_("Accepted"), counts["accepted"]),
        (_("Paid"), counts["paid"]),
    ]


_weeks = prepared(
    lambda company_id, since: (
        Invoice.objects.filter(company_id=company_id, issue_date__gte=since)
        .exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
        .annotate(week=TruncWeek("issue_date"))
        .values("week")
        .annotate(invoiced=Sum("total"), outstanding=Sum(_balance()))
        .order_by()
    ),
    _COMPANY,
    _DAY,
)


def money_by_week(*, company: Company, weeks: int = 8) -> list[dict]:
    """For each recent week, what was invoiced then: how much is collected and how much is
    still outstanding (one query, compiled once)."""
    today = timezone.localdate()
    first_monday = today - dt.timedelta(days=today.weekday() + 7 * (weeks - 1))
    rows = _weeks.all(company.pk, first_monday)
    by_week = {(r["week"].date() if hasattr(r["week"], "date") else r["week"]): r for r in rows}
    result = []
    for i in range(weeks):
        monday = first_monday + dt.timedelta(days=7 * i)
        row: Mapping[str, Any] = by_week.get(monday, {})
        total = row.get("invoiced") or ZERO
        outstanding = max(ZERO, row.get("outstanding") or ZERO)
        result.append(
            {"week": monday, "collected": total - outstanding, "outstanding": outstanding}
        )
    return result
