"""An invoice converted from an estimate whose deposit covers it in full goes out paid.

Sending only moved a draft to "sent": such an invoice went out as $0.00 still to pay (open in
the lists, chased by reminders) until something else recomputed its money."""

from __future__ import annotations

from decimal import Decimal

from django.test import Client
from django.urls import reverse

from billing import services
from crewcommand.lib.activity import Actor
from documents import services as documents
from documents.models import Invoice
from tests.billing.conftest import deposit, roof
from tests.factories import PaymentFactory, SignedEstimateFactory
from tests.portal.helpers import issue


def test_a_deposit_that_covers_the_invoice_sends_it_paid(customer, job, owner_client):
    # $100.00 of work; the customer's province taxes it to $113.00 (the test company's 13 %),
    # and the deposit asked for was the whole $113.00.
    estimate = SignedEstimateFactory(
        customer=customer, job=job, lines=roof("100.00"), revision=deposit(fixed="113.00")
    )
    PaymentFactory(estimate=estimate, amount="113.00")
    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    assert invoice.status == "draft"  # a draft until it is sent, whatever it is owed

    documents.invoice_send(invoice=invoice, actor=Actor.system())

    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.total, invoice.deposit_credit, invoice.amount_paid, invoice.balance) == (
        Decimal("113.00"),
        Decimal("113.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert invoice.status == "paid"
    assert invoice.paid_at == invoice.sent_at
    assert not invoice.is_overdue

    # The customer's page: paid, with nothing to pay.
    page = Client().get(issue(customer, invoice).path, follow=True)
    assert page.status_code == 200
    html = page.content.decode()
    assert "portal-paid-mark" in html and "Pay now" not in html
    # The contractor's list files it under paid.
    listed = owner_client.get(reverse("documents:invoice_list") + "?status=paid")
    assert invoice.display_number in listed.content.decode()


def test_a_deposit_that_covers_part_of_the_invoice_sends_it_with_the_rest_to_pay(customer, job):
    estimate = SignedEstimateFactory(
        customer=customer, job=job, lines=roof("100.00"), revision=deposit(fixed="50.00")
    )
    PaymentFactory(estimate=estimate, amount="50.00")
    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    documents.invoice_send(invoice=invoice, actor=Actor.system())
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.status, invoice.paid_at, invoice.balance) == ("sent", None, Decimal("63.00"))
