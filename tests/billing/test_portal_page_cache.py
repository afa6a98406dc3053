"""Billing's portal slots (the Pay card, the balance's Pay button, the payments received, the
deposit) are cached with the page (crewcommand.lib.pagecache): their state is in the page's key
(``billing.selectors.link_payments_state``, ``link_invoiced_state``, ``portal_slot_state``),
so a payment, an attempt the customer came back from, a refund or a Stripe disconnection shows
on the very next answer, whatever code path wrote it.

Each test loads the page twice first (the second answer comes from the cache), then changes
one thing, here with plain UPDATEs where possible (no service stamps the invoice), and reads
the page once more."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import Payment, PaymentMethod, PaymentPurpose, PaymentStatus
from crewcommand.lib.activity import Actor
from documents.models import Invoice
from portal.services import link_create
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(invoice):
    link = link_create(customer=invoice.customer, actor=Actor.system(), document=invoice)
    return reverse("portal:invoice", args=[link.token, invoice.public_id])


def _cached(client: Client, url: str) -> str:
    """The page from the cache (no line is read): the first view marks the invoice viewed (a
    change, so a new page), the second renders and stores it, the third is the cached one."""
    client.get(url)
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        body = client.get(url).content.decode()
    assert not any("documents_lineitem" in q["sql"] for q in queries.captured_queries)
    return body


def _get(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_billings_slots_are_part_of_the_cached_page_and_cost_no_query(page, connected):
    client = Client()
    _cached(client, page)
    with CaptureQueriesContext(connection) as queries:
        body = _get(client, page)
    assert 'id="pay-button"' in body and "Pay $1,356.00" in body
    # The link's one query, and nothing for the slots (their state came with it). (With tasks
    # inline, as in tests, the view count is written at once: that UPDATE is not the page's.)
    # The link's one query: a SELECT, or on PostgreSQL the EXECUTE of its prepared statement.
    reads = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith(("SELECT", "EXECUTE"))
    ]
    assert len(reads) == 1, [r[:80] for r in reads]
    assert "portal_portallink" in reads[0] or reads[0].startswith("EXECUTE cc_"), reads[0][:80]


def test_a_payment_shows_at_once_even_written_without_touching_the_invoice(
    page, invoice, connected
):
    PaymentFactory(invoice=invoice, amount=Decimal("100.00"), reference="first")
    client = Client()
    before = _cached(client, page)
    assert "$100.00" in before and before.count("Receipt ") == 1
    # A second payment row, written behind the services' back: the invoice row is unchanged.
    first = Payment.objects.get()
    Payment.objects.bulk_create(
        [
            Payment(
                company=first.company,
                customer=first.customer,
                invoice=first.invoice,
                purpose=PaymentPurpose.INVOICE,
                method=PaymentMethod.CHEQUE,
                status=PaymentStatus.SUCCEEDED,
                applied=True,
                amount=Decimal("42.00"),
                received_on=timezone.localdate(),
                succeeded_at=timezone.now(),
            )
        ]
    )
    after = _get(client, page)
    assert after.count("Receipt ") == 2 and "$42.00" in after


def test_paying_through_the_services_shows_at_once(page, invoice, connected):
    client = Client()
    before = _cached(client, page)
    assert "Pay $1,356.00" in before
    PaymentFactory(invoice=Invoice.objects.get(pk=invoice.pk), amount=Decimal("356.00"))
    after = _get(client, page)
    assert "Pay $1,000.00" in after and "Payments received" in after


def test_an_open_attempt_the_customer_came_back_from_shows_at_once(page, invoice, connected):
    client = Client()
    client.post(reverse("billing_portal:pay_invoice", args=[page.split("/")[2], invoice.public_id]))
    attempt = Payment.objects.get()
    assert attempt.status == PaymentStatus.CREATED
    before = _cached(client, page)
    assert 'id="pay-button"' in before and "Payment being confirmed" not in before
    # Back from Stripe's success page, not confirmed yet (a plain UPDATE: no invoice change).
    Payment.objects.filter(pk=attempt.pk).update(returned_at=timezone.now())
    after = _get(client, page)
    assert "Payment being confirmed" in after and 'id="pay-button"' not in after


def test_a_refund_shows_at_once(page, invoice, connected):
    PaymentFactory(invoice=invoice, amount=Decimal("100.00"))
    client = Client()
    before = _cached(client, page)
    assert "refunded" not in before
    Payment.objects.update(amount_refunded=Decimal("40.00"))
    after = _get(client, page)
    assert "$40.00 refunded" in after


def test_disconnecting_stripe_shows_at_once(page, invoice, connected, owner):
    client = Client()
    before = _cached(client, page)
    assert 'id="pay-button"' in before
    services.stripe_disconnect(company=invoice.company, actor=Actor.member(owner.user))
    after = _get(client, page)
    assert 'id="pay-button"' not in after and "Pay $1,356.00" not in after


def test_the_platform_key_going_away_shows_at_once(page, connected, settings):
    client = Client()
    before = _cached(client, page)
    assert 'id="pay-button"' in before
    settings.STRIPE_SECRET_KEY = ""
    after = _get(client, page)
    assert 'id="pay-button"' not in after


def test_another_invoices_payment_leaves_the_page_cached(page, invoice, connected, customer):
    from tests.factories import InvoiceFactory

    client = Client()
    before = _cached(client, page)
    other = InvoiceFactory(customer=customer)
    PaymentFactory(invoice=other, amount=Decimal("100.00"))
    with CaptureQueriesContext(connection) as queries:
        after = _get(client, page)
    assert not any("documents_lineitem" in q["sql"] for q in queries.captured_queries)
    assert after.count("Receipt ") == before.count("Receipt ") == 0
