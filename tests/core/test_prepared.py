"""crewcommand.lib.prepared: a lookup compiled once gives what the queryset gives, row for
row, related rows and deferred fields included, on every call and for a missing row."""

from __future__ import annotations

import pytest
from django.utils import timezone

from booking.models import BookingSettings
from crewcommand.lib.prepared import prepared
from crewcommand.models import Company
from portal.models import PortalLink
from tests.factories import CompanyFactory, CustomerFactory, EstimateFactory, InvoiceFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: obj.__dict__.get(f.attname) for f in obj._meta.concrete_fields}


def test_a_prepared_lookup_gives_the_querysets_rows(customer):
    links = [
        issue(customer, EstimateFactory(customer=customer)).link,
        issue(customer, InvoiceFactory(customer=customer)).link,
        issue(customer).link,
    ]
    PortalLink.objects.filter(pk=links[0].pk).update(revoked_at=timezone.now())

    def build(pk):
        return PortalLink.objects.select_related(
            "company", "customer", "estimate", "invoice"
        ).filter(pk=pk)

    lookup = prepared(build, -7_000_000_001)
    for link in links:
        for _ in range(2):
            got, want = lookup.first(link.pk), build(link.pk).first()
            assert _fields(got) == _fields(want)
            for name in ("company", "customer", "estimate", "invoice"):
                a, b = getattr(got, name), getattr(want, name)
                assert (a and _fields(a)) == (b and _fields(b))
    assert lookup.first(10**12) is None

    values = prepared(
        lambda digest: PortalLink.objects.filter(token_hash=digest).values_list(
            "pk", "revoked_at", "expires_at"
        )
    )
    for link in links:
        assert values.first(link.token_hash) == tuple(
            PortalLink.objects.filter(pk=link.pk).values_list("pk", "revoked_at", "expires_at")[0]
        )
    assert values.first("no such hash") is None


def test_deferred_fields_and_a_missing_related_row(company):
    bare = CompanyFactory(slug="bare")
    BookingSettings.objects.create(company=company, services="A\nB")
    lookup = prepared(
        lambda slug: Company.objects.select_related("booking_settings").filter(slug=slug)
    )
    assert lookup.first("maple").booking_settings.service_list == ["A", "B"]
    assert not hasattr(lookup.first("bare"), "booking_settings")
    assert lookup.first("bare").pk == bare.pk
    only = prepared(lambda slug: Company.objects.only("name").filter(slug=slug))
    got = only.first("maple")
    assert got.name == "Maple Plumbing" and got.get_deferred_fields() >= {"email", "phone"}


def test_all_gives_the_querysets_list_with_related_rows_and_annotations(company, customer):
    from django.db.models import Count, F

    from crewcommand.models import Customer, Job
    from tests.factories import JobFactory

    other = CustomerFactory(company=company, name="Zed")
    for who in (customer, customer, other):
        JobFactory(customer=who)
    JobFactory(customer=CustomerFactory(company=CompanyFactory(slug="else")))

    def jobs(company_id):
        return (
            Job.objects.filter(company_id=company_id)
            .select_related("customer")
            .annotate(twice=F("pk") * 2)
            .order_by("pk")
        )

    lookup = prepared(jobs, -7_000_000_001)
    got, want = lookup.all(company.pk), list(jobs(company.pk))
    assert [_fields(j) for j in got] == [_fields(j) for j in want] and len(got) == 3
    assert [_fields(j.customer) for j in got] == [_fields(j.customer) for j in want]
    assert [j.twice for j in got] == [j.pk * 2 for j in want]
    assert lookup.all(10**12) == []

    counts = prepared(
        lambda company_id: (
            Customer.objects.filter(company_id=company_id)
            .annotate(n=Count("jobs"))
            .values("name", "n")
            .order_by("name")
        ),
        -7_000_000_001,
    )
    assert counts.all(company.pk) == [{"name": "Alice Tremblay", "n": 2}, {"name": "Zed", "n": 1}]


def test_one_row_aggregates_with_dates_used_twice_and_nothing_matching(company, customer):
    import datetime as dt
    from decimal import Decimal

    from django.db.models import Count, Q, Sum

    from crewcommand.lib.prepared import one_row
    from documents.models import Invoice

    today = timezone.localdate()
    for days, total in ((-3, "10.00"), (0, "20.50"), (4, "1.25")):
        invoice = InvoiceFactory(customer=customer)
        Invoice.objects.filter(pk=invoice.pk).update(
            issue_date=today - dt.timedelta(days=10),
            due_date=today + dt.timedelta(days=days),
            total=Decimal(total),
        )

    def build(company_id, day, moment):
        return one_row(
            Invoice.objects.filter(company_id=company_id, created_at__lte=moment),
            late=Count("pk", filter=Q(due_date__lt=day)),
            late_total=Sum("total", filter=Q(due_date__lt=day)),
            due_by=Sum("total", filter=Q(due_date__lte=day)),
        )

    lookup = prepared(
        build, -7_000_000_001, dt.date(1001, 1, 1), dt.datetime(1001, 1, 1, tzinfo=dt.UTC)
    )
    now = timezone.now()
    for day in (today, today + dt.timedelta(days=5)):
        want = Invoice.objects.filter(company_id=company.pk, created_at__lte=now).aggregate(
            late=Count("pk", filter=Q(due_date__lt=day)),
            late_total=Sum("total", filter=Q(due_date__lt=day)),
            due_by=Sum("total", filter=Q(due_date__lte=day)),
        )
        assert lookup.first(company.pk, day, now) == want
    assert lookup.first(company.pk, today, now) == {
        "late": 1,
        "late_total": Decimal("10.00"),
        "due_by": Decimal("30.50"),
    }
    empty = lookup.first(company.pk, today, now - dt.timedelta(days=1))
    assert empty == {"late": 0, "late_total": None, "due_by": None}


def test_a_placeholder_missing_from_the_query_or_a_prefetch_is_refused(company):
    import pytest as _pytest

    with _pytest.raises(ValueError, match="not a plain parameter"):
        prepared(lambda pk: Company.objects.filter(pk=pk + 1), -7_000_000_001).first(company.pk)
    with _pytest.raises(ValueError, match="prefetch_related"):
        prepared(
            lambda pk: Company.objects.filter(pk=pk).prefetch_related("members"), -7_000_000_001
        ).all(company.pk)
