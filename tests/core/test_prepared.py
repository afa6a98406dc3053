"""crewcommand.lib.prepared: a lookup compiled once gives what the queryset gives, row for
row, related rows and deferred fields included, on every call and for a missing row."""

from __future__ import annotations

import pytest
from django.utils import timezone

from booking.models import BookingSettings
from crewcommand.lib.prepared import prepared
from crewcommand.models import Company
from portal.models import PortalLink
from tests.factories import CompanyFactory, EstimateFactory, InvoiceFactory
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
