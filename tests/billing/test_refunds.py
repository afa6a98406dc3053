"""Refunds: nothing goes back before the contractor confirms what they saw (customer, amount,
effect on the balance); the effect is an explicit choice (reverse the payment, or a goodwill
refund that leaves the balance alone); the customer gets exactly one notice, after commit."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from billing import services, tasks
from billing.models import Refund, RefundKind, RefundStatus
from crewcommand.lib.activity import Actor
from documents.models import Invoice, InvoiceStatus
from portal.services import link_create
from tests.billing.test_manual_refunds_deposits import paid_by_card
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def notices(customer) -> list:
    return [m for m in mail.outbox if m.to == [customer.email] and "Refund" in m.subject]


def _intent(body: str) -> str:
    return re.search(r'name="intent" value="([^"]+)"', body).group(1)


def test_a_card_refund_waits_for_confirmation_and_a_second_post_refunds_once(
    owner_client, invoice, connected, stripe_on, django_capture_on_commit_callbacks
):
    payment = paid_by_card(invoice, connected, stripe_on)
    url = reverse("billing_dashboard:refund", args=[payment.public_id])
    form = owner_client.get(url).content.decode()
    assert "What should happen to the balance?" in form and "checked" not in form

    missing = owner_client.post(url, {"amount": "200"}).content.decode()
    assert "Choose what the refund does to the balance." in missing

    review = owner_client.post(url, {"amount": "200", "kind": "reversal", "reason": "No show"})
    body = review.content.decode()
    assert review.status_code == 200 and "Refund $200.00?" in body
    assert invoice.customer.name in body and "Back to the customer's card" in body
    assert "Balance due on INV-0001 goes from $0.00 to $200.00" in body
    assert not Refund.objects.exists() and not stripe_on.requests_to("/v1/refunds")

    confirm = {"intent": _intent(body), "confirm": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        done = owner_client.post(url, confirm)
        again = owner_client.post(url, confirm)  # a double click, or the back button
    assert done.status_code == again.status_code == 302
    refund = Refund.objects.get()
    assert refund.amount == Decimal("200.00") and refund.kind == RefundKind.REVERSAL
    assert refund.status == RefundStatus.SUCCEEDED
    assert len(stripe_on.requests_to("/v1/refunds", "POST")) == 1
    invoice.refresh_from_db()
    assert invoice.balance == Decimal("200.00") and invoice.status == InvoiceStatus.PARTIALLY_PAID
    (notice,) = notices(invoice.customer)
    assert "$200.00" in notice.body and "back to the card" in notice.body
    assert "Balance due on Invoice INV-0001 now: $200.00" in notice.body
    assert "No show" not in notice.body  # the reason is for the contractor's records


def test_a_tampered_or_foreign_confirmation_refunds_nothing(owner_client, invoice):
    payment = PaymentFactory(invoice=invoice, amount="1356.00")
    url = reverse("billing_dashboard:refund", args=[payment.public_id])
    body = owner_client.post(url, {"amount": "50", "kind": "goodwill"}).content.decode()
    answer = owner_client.post(url, {"intent": _intent(body) + "x", "confirm": "1"})
    assert answer.status_code == 200 and "confirmation has expired" in answer.content.decode()
    assert not Refund.objects.exists()


def test_a_goodwill_partial_refund_keeps_a_paid_invoice_paid_on_the_portal(
    owner_client, invoice, connected, stripe_on, django_capture_on_commit_callbacks
):
    payment = paid_by_card(invoice, connected, stripe_on)
    url = reverse("billing_dashboard:refund", args=[payment.public_id])
    body = owner_client.post(url, {"amount": "500", "kind": "goodwill"}).content.decode()
    assert "Balance due on INV-0001 stays $0.00 and the invoice stays paid" in body
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(url, {"intent": _intent(body), "confirm": "1"})

    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.balance == 0
    assert invoice.amount_paid == Decimal("1356.00")
    assert payment.amount_refunded == payment.amount_refunded_goodwill == Decimal("500.00")
    link = link_create(customer=invoice.customer, actor=Actor.system(), document=invoice)
    portal = Client().get(reverse("portal:invoice", args=[link.token, invoice.public_id]))
    page = portal.content.decode()
    assert "Pay $500.00" not in page and 'id="pay-button"' not in page
    assert "PAID" in page and "$500.00 refunded" in page and "your balance is unchanged" in page
    ledger = owner_client.get(reverse("billing_dashboard:payment_list")).content.decode()
    assert 'id="total-refunded">$500.00' in ledger and 'id="total-net">$856.00' in ledger
    (notice,) = notices(invoice.customer)
    assert "goodwill refund: it does not change what you owe" in notice.body


def test_reversing_the_same_amount_reopens_the_balance(invoice, connected, stripe_on):
    payment = paid_by_card(invoice, connected, stripe_on)
    services.refund_create(
        payment=payment, amount=Decimal("500"), actor=Actor.system(), kind=RefundKind.REVERSAL
    )
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.balance == Decimal("500.00") and invoice.status == InvoiceStatus.PARTIALLY_PAID
    link = link_create(customer=invoice.customer, actor=Actor.system(), document=invoice)
    page = Client().get(reverse("portal:invoice", args=[link.token, invoice.public_id]))
    assert "Pay $500.00" in page.content.decode()


def test_the_customer_gets_one_refund_notice_after_commit(
    invoice, django_capture_on_commit_callbacks
):
    payment = PaymentFactory(invoice=invoice, amount="1356.00")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        refund = services.refund_create(
            payment=payment, amount=Decimal("100"), actor=Actor.system(), kind="goodwill"
        )
    assert queued and notices(invoice.customer) == []  # nothing before the commit
    with django_capture_on_commit_callbacks(execute=True):  # the notice's outbox task
        for callback in queued:
            callback()
        tasks.send_refund_notice(refund_id=refund.pk)  # a retry, or the task delivered twice
    (notice,) = notices(invoice.customer)
    assert "This confirms that Maple Plumbing gave the money back to you." in notice.body
    assert "&amp;" not in notice.body and refund.public_id.upper() in notice.body
    assert Refund.objects.get().notice_sent_at is not None
