"""A customer's portal GET writes nothing to the database: views are counted in the cache and
written by the worker in one UPDATE per burst, and "viewed" is set by the worker once
(``portal/visits.py``). A real worker on Redis proves the counts and the status arrive."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crewcommand.models import Activity
from documents.models import Invoice, InvoiceStatus
from portal.models import PortalLink
from tests.factories import EstimateFactory, InvoiceFactory
from tests.portal.helpers import issue
from tests.worker import wait_for

WRITES = ("INSERT", "UPDATE", "DELETE")

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Safari/604.1"


def _writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


@pytest.mark.worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_portal_pages_write_nothing_and_the_worker_records_each_view_once(
    celery_worker_process, customer, settings
):
    settings.PORTAL_VIEW_FLUSH_SECONDS = 1
    invoice = InvoiceFactory(customer=customer)
    estimate = EstimateFactory(customer=customer)
    link = issue(customer)
    assert invoice.status == InvoiceStatus.SENT
    client = Client(headers={"user-agent": PHONE})
    pages = [
        reverse("portal:home", args=[link.token]),
        reverse("portal:invoice", args=[link.token, invoice.public_id]),
        reverse("portal:invoice", args=[link.token, invoice.public_id]),
        reverse("portal:estimate", args=[link.token, estimate.public_id]),
        reverse("portal:invoice_pdf", args=[link.token, invoice.public_id]),
    ]
    with CaptureQueriesContext(connection) as queries:
        for url in pages:
            assert client.get(url).status_code == 200, url
    assert _writes(queries.captured_queries) == []

    def counted():
        row = PortalLink.objects.get(pk=link.link.pk)
        return row if row.view_count == len(pages) else None

    row = wait_for(counted)
    assert row.first_viewed_at <= row.last_viewed_at and row.last_device == "phone"
    assert wait_for(lambda: Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.VIEWED)
    viewed = Activity.objects.filter(verb__in=["invoice.viewed", "estimate.viewed"])
    assert wait_for(lambda: viewed.count() == 2)

    # A second burst adds to the count; "viewed" is not written again.
    with CaptureQueriesContext(connection) as queries:
        for url in pages[:3]:
            client.get(url)
    assert _writes(queries.captured_queries) == []
    assert wait_for(lambda: PortalLink.objects.get(pk=link.link.pk).view_count == 8)
    assert viewed.count() == 2


@pytest.mark.django_db
def test_with_tasks_inline_a_view_is_counted_at_once(customer):
    """The embedded default (no worker): the count and the status are written as the page is
    served, so a contractor trying the demo sees "Viewed" at once."""
    invoice = InvoiceFactory(customer=customer)
    link = issue(customer)
    client = Client()
    for _ in range(3):
        client.get(reverse("portal:invoice", args=[link.token, invoice.public_id]))
    assert PortalLink.objects.get(pk=link.link.pk).view_count == 3
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.VIEWED
    assert Activity.objects.filter(verb="invoice.viewed").count() == 1
