"""The home's reads, compiled once (``crewcommand.lib.prepared``), give exactly what the plain
querysets they replaced give: on a company with invoices and estimates in every state, jobs
today and not, and another company's rows next to them (never counted), in two time zones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Count, DecimalField, Exists, OuterRef, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from booking import selectors as booking
from booking.models import RequestSource, RequestStatus, ServiceRequest
from crewcommand import selectors
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import ZERO
from crewcommand.models import Activity, Job, JobStatus
from documents import selectors as documents
from documents.models import (
    OPEN_INVOICE_STATUSES,
    Estimate,
    EstimateRevision,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
)
from tests.factories import CustomerFactory, EstimateFactory, InvoiceFactory, JobFactory

pytestmark = pytest.mark.django_db


def _fill(member, name: str) -> None:
    """Invoices and estimates in every state, jobs around today, requests, activity."""
    company = member.company
    actor = Actor.member(member.user)
    today = timezone.localdate()
    now = timezone.now()
    customer = CustomerFactory(company=company, name=f"{name} customer")
    amounts = ["120.00", "75.50", "1000.00", "19.99", "300.00", "42.00", "88.80"]
    states = [
        # status, due in days, paid, deposit credit, issued days ago
        (InvoiceStatus.SENT, -5, "0.00", "0.00", 20),  # overdue
        (InvoiceStatus.VIEWED, 10, "0.00", "0.00", 3),  # open, not yet due
        (InvoiceStatus.PARTIALLY_PAID, -1, "400.00", "100.00", 40),  # overdue, part paid
        (InvoiceStatus.PAID, -3, "19.99", "0.00", 10),
        (InvoiceStatus.VOID, -9, "0.00", "0.00", 12),
        (InvoiceStatus.DRAFT, 30, "0.00", "0.00", 0),
        (InvoiceStatus.SENT, -2, "88.80", "0.00", 70),  # past due but nothing owing
    ]
    for amount, (status, due_in, paid, credit, issued) in zip(amounts, states, strict=True):
        invoice = InvoiceFactory(
            customer=customer,
            actor=actor,
            lines=({"description": "Work", "unit_price": amount, "taxable": False},),
        )
        Invoice.objects.filter(pk=invoice.pk).update(
            status=status,
            issue_date=today - dt.timedelta(days=issued),
            due_date=today + dt.timedelta(days=due_in),
            amount_paid=Decimal(paid),
            deposit_credit=Decimal(credit),
        )
    estimates = [EstimateFactory(customer=customer, actor=actor) for _ in range(5)]
    sent = now - dt.timedelta(days=3)
    updates = [
        {"status": EstimateStatus.SENT, "sent_at": sent},
        {"status": EstimateStatus.VIEWED, "sent_at": sent, "viewed_at": now},
        {"status": EstimateStatus.CHANGES_REQUESTED, "sent_at": now - dt.timedelta(days=40)},
        {"status": EstimateStatus.ACCEPTED, "sent_at": sent},
        {"status": EstimateStatus.SENT, "sent_at": sent - dt.timedelta(hours=1)},  # expired
    ]
    for estimate, fields in zip(estimates, updates, strict=True):
        Estimate.objects.filter(pk=estimate.pk).update(**fields)
    EstimateRevision.objects.filter(pk=estimates[4].current_revision_id).update(
        valid_until=today - dt.timedelta(days=1)
    )
    paid = InvoiceFactory(customer=customer, actor=actor)
    Invoice.objects.filter(pk=paid.pk).update(estimate=estimates[3], status=InvoiceStatus.PAID)
    start = timezone.make_aware(dt.datetime.combine(today, dt.time(9)))
    for hours, status in [(0, JobStatus.SCHEDULED), (5, JobStatus.CANCELLED), (24, None)]:
        JobFactory(
            customer=customer,
            scheduled_start=start + dt.timedelta(hours=hours),
            status=status or JobStatus.SCHEDULED,
        )
    for status in (RequestStatus.NEW, RequestStatus.NEW, RequestStatus.DISMISSED):
        ServiceRequest.objects.create(
            company=company,
            source=RequestSource.BOOKING_PAGE,
            name=f"{name} caller",
            address="1 Main St",
            service="Furnace",
            status=status,
        )


def _old_summary(company):
    zero = Value(ZERO, output_field=DecimalField(max_digits=14, decimal_places=2))
    balance = documents._balance()
    return Invoice.objects.filter(company=company, status__in=OPEN_INVOICE_STATUSES).aggregate(
        outstanding=Coalesce(Sum(balance), zero),
        overdue=Coalesce(Sum(balance, filter=documents._overdue_q()), zero),
        overdue_count=Count("pk", filter=documents._overdue_q()),
    )


def _old_awaiting(company):
    return (
        documents.with_figures(Estimate.objects.filter(documents._live_q(), company=company))
        .exclude(documents._expired_q())
        .select_related("customer")
        .order_by("sent_at")
    )


def _old_funnel(company):
    since = timezone.now() - dt.timedelta(days=30)
    paid = Invoice.objects.filter(estimate=OuterRef("pk"), status=InvoiceStatus.PAID)
    return (
        Estimate.objects.filter(company=company, sent_at__gte=since)
        .annotate(was_paid=Exists(paid))
        .aggregate(
            sent=Count("pk"),
            viewed=Count(
                "pk",
                filter=Q(viewed_at__isnull=False)
                | Q(status__in=[EstimateStatus.CHANGES_REQUESTED, EstimateStatus.ACCEPTED]),
            ),
            accepted=Count("pk", filter=Q(status=EstimateStatus.ACCEPTED)),
            paid=Count("pk", filter=Q(was_paid=True)),
        )
    )


def _old_weeks(company):
    today = timezone.localdate()
    first_monday = today - dt.timedelta(days=today.weekday() + 7 * 7)
    return {
        (row["week"].date() if hasattr(row["week"], "date") else row["week"]): row
        for row in Invoice.objects.filter(company=company, issue_date__gte=first_monday)
        .exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
        .annotate(week=TruncWeek("issue_date"))
        .values("week")
        .annotate(invoiced=Sum("total"), outstanding=Sum(documents._balance()))
    }


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.parametrize("zone", ["America/Toronto", "America/Vancouver"])
def test_the_home_reads_give_what_the_plain_querysets_give(owner, outsider, zone):
    company = owner.company
    with timezone.override(zone):
        # The rows are dated from the zone's own today: between midnight in Toronto and
        # midnight in Vancouver the two zones' todays differ by a day.
        _fill(owner, "Ours")
        _fill(outsider, "Theirs")
        summary = documents.invoice_summary(company=company)
        assert summary == _old_summary(company)
        assert summary["overdue_count"] == 2  # the sent one and the part-paid one
        assert summary["outstanding"] == Decimal("120.00") + Decimal("75.50") + Decimal("500.00")

        funnel = dict(documents.funnel(company=company))
        old = _old_funnel(company)
        assert funnel == {
            "Sent": old["sent"],
            "Viewed": old["viewed"],
            "Accepted": old["accepted"],
            "Paid": old["paid"],
        }
        assert funnel == {"Sent": 4, "Viewed": 2, "Accepted": 1, "Paid": 1}

        weeks = documents.money_by_week(company=company)
        old_weeks = _old_weeks(company)
        assert old_weeks  # invoices issued in the last eight weeks
        for week in weeks:
            row = old_weeks.get(week["week"], {})
            outstanding = max(ZERO, row.get("outstanding") or ZERO)
            assert week["outstanding"] == outstanding
            assert week["collected"] == (row.get("invoiced") or ZERO) - outstanding

        attention = documents.attention(company=company)
        old_awaiting = list(_old_awaiting(company)[:8])
        assert [_fields(e) for e in attention["awaiting"]] == [_fields(e) for e in old_awaiting]
        assert [e.customer.name for e in attention["awaiting"]] == ["Ours customer"] * 3
        assert [e.figures.total for e in attention["awaiting"]] == [
            e.figures.total for e in old_awaiting
        ]
        assert all(e.figures.total > 0 for e in old_awaiting)
        assert attention["awaiting_count"] == _old_awaiting(company).count() == 3
        old_overdue = (
            Invoice.objects.filter(company=company)
            .filter(documents._overdue_q())
            .select_related("customer")
            .order_by("due_date")
        )
        assert [_fields(i) for i in attention["overdue"]] == [_fields(i) for i in old_overdue]
        assert len(attention["overdue"]) == 2

        today = timezone.localdate()
        jobs = selectors.jobs_on_day(company=company, day=today)
        start = dt.datetime.combine(today, dt.time.min, tzinfo=timezone.get_current_timezone())
        old_jobs = (
            Job.objects.filter(
                company=company,
                scheduled_start__gte=start,
                scheduled_start__lt=start + dt.timedelta(days=1),
            )
            .exclude(status=JobStatus.CANCELLED)
            .order_by("scheduled_start")
        )
        assert [j.pk for j in jobs] == [j.pk for j in old_jobs]
        assert [j.customer.name for j in jobs] == ["Ours customer"] * len(jobs)

    assert [a.pk for a in selectors.activity_recent(company=company)] == [
        a.pk for a in Activity.objects.filter(company=company)[:10]
    ]
    assert selectors.has_customers(company=company)
    assert booking.new_count(company) == 2


def test_an_empty_company_reads_as_empty(company):
    assert documents.invoice_summary(company=company) == {
        "outstanding": ZERO,
        "overdue": ZERO,
        "overdue_count": 0,
    }
    assert documents.funnel(company=company) == [
        ("Sent", 0),
        ("Viewed", 0),
        ("Accepted", 0),
        ("Paid", 0),
    ]
    assert documents.attention(company=company) == {
        "awaiting": [],
        "awaiting_count": 0,
        "overdue": [],
    }
    assert not selectors.has_customers(company=company)
    assert booking.new_count(company) == 0
    assert selectors.activity_recent(company=company) == []


def test_the_awaited_estimates_totals_need_no_query_per_row(
    owner, customer, django_assert_num_queries
):
    for _ in range(3):
        Estimate.objects.filter(pk=EstimateFactory(customer=customer).pk).update(
            status=EstimateStatus.SENT, sent_at=timezone.now()
        )
    with django_assert_num_queries(4):  # first eight, their lines, the count, overdue
        attention = documents.attention(company=owner.company)
        totals = [e.figures.total for e in attention["awaiting"]]
    assert totals == [e.figures.total for e in _old_awaiting(owner.company)]


def test_the_invoice_lists_pages_compiled_once_are_the_querysets_pages(
    owner, outsider, owner_client
):
    from django.core.paginator import Paginator
    from django.urls import reverse

    from crewcommand.lib.listing import PAGE_SIZE
    from tests.factories import sent_invoices_in_bulk

    for member, count in ((owner, 2 * PAGE_SIZE + 7), (outsider, 30)):
        sent_invoices_in_bulk(CustomerFactory(company=member.company), count)
    company = owner.company
    pages = documents.InvoicePages(company)
    assert pages.count() == documents.invoice_list(company=company).count() == 2 * PAGE_SIZE + 7
    ours, theirs = (
        Paginator(pages, PAGE_SIZE),
        Paginator(documents.invoice_list(company=company), PAGE_SIZE),
    )
    assert ours.num_pages == theirs.num_pages == 3
    for number in (1, 2, 3, 1):
        got, want = list(ours.page(number)), list(theirs.page(number))
        assert [_fields(i) for i in got] == [_fields(i) for i in want]
        assert {i.customer.company_id for i in got} == {company.pk}
    # Windows the paginator never asks for still answer as the queryset.
    for window in (slice(3, 9), slice(0, 100), slice(PAGE_SIZE * 50, PAGE_SIZE * 51)):
        assert [i.pk for i in pages[window]] == [
            i.pk for i in documents.invoice_list(company=company)[window]
        ]
    body = owner_client.get(reverse("documents:invoice_list") + "?page=3").content.decode()
    assert "INV-0007" in body and "INV-0008" not in body and "Page 3 of 3" in body
