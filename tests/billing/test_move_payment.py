"""Moving a payment that landed on the wrong invoice (or a flagged duplicate) to another open
invoice of the same customer: a ledger transfer with activity on both invoices; and
``Payment.refundable`` with pending refunds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import (
    IssueKind,
    Payment,
    PaymentIssue,
    PaymentMethod,
    PaymentTransfer,
    Refund,
    RefundStatus,
)
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.models import Activity
from documents.models import Invoice, InvoiceStatus
from tests.billing.conftest import start_checkout
from tests.factories import CustomerFactory, InvoiceFactory

pytestmark = pytest.mark.django_db


def _cash(invoice, amount="1356.00", owner=None):
    return services.payment_record(
        actor=Actor.member(owner.user) if owner else Actor.system(),
        invoice=invoice,
        amount=Decimal(amount),
        method=PaymentMethod.CHEQUE,
        received_on=timezone.localdate(),
    )


def test_a_payment_moves_to_the_right_invoice_with_activity_on_both(owner, customer, job):
    wrong, right = (
        InvoiceFactory(customer=customer, job=job),
        InvoiceFactory(customer=customer, job=job),
    )
    payment = _cash(wrong, owner=owner)
    assert Invoice.objects.get(pk=wrong.pk).status == InvoiceStatus.PAID

    transfer = services.payment_move(
        payment=payment, to_invoice=right, actor=Actor.member(owner.user), reason="wrong one"
    )
    assert (transfer.from_invoice_id, transfer.to_invoice_id) == (wrong.pk, right.pk)
    assert transfer.amount == Decimal("1356.00") and transfer.created_by == owner.user
    wrong.refresh_from_db()
    right.refresh_from_db()
    assert wrong.amount_paid == 0 and wrong.balance == Decimal("1356.00")
    assert wrong.status != InvoiceStatus.PAID
    assert right.amount_paid == Decimal("1356.00") and right.status == InvoiceStatus.PAID
    assert Payment.objects.get(pk=payment.pk).invoice_id == right.pk
    rows = Activity.objects.filter(verb__startswith="payment.moved")
    assert {row.verb for row in rows} == {"payment.moved_out", "payment.moved_in"}
    assert {row.target_id for row in rows} == {wrong.pk, right.pk}
    for row in rows:
        assert row.data["from"] == wrong.display_number and row.data["to"] == right.display_number
        assert row.data["amount"] == "$1,356.00"


def test_a_flagged_duplicate_card_payment_moves_and_is_applied(customer, job, connected, stripe_on):
    invoice = InvoiceFactory(customer=customer, job=job)
    other = InvoiceFactory(customer=customer, job=job)
    first, second = start_checkout(invoice), start_checkout(invoice)
    for started in (first, second):
        stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
        services.payment_refresh(payment=started.payment)
    duplicate = Payment.objects.get(pk=second.payment.pk)
    assert not duplicate.applied
    assert PaymentIssue.objects.filter(payment=duplicate, kind=IssueKind.OVERPAID).exists()

    services.payment_move(payment=duplicate, to_invoice=other, actor=Actor.system())
    duplicate.refresh_from_db()
    assert duplicate.applied and duplicate.invoice_id == other.pk
    assert Invoice.objects.get(pk=other.pk).status == InvoiceStatus.PAID
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID  # the first one
    assert not PaymentIssue.objects.filter(payment=duplicate, resolved_at=None).exists()


def test_a_move_is_refused_when_it_does_not_fit(owner, customer, job, company):
    source = InvoiceFactory(customer=customer, job=job)
    payment = _cash(source)
    stranger = InvoiceFactory(customer=CustomerFactory(company=company))
    small = InvoiceFactory(customer=customer, job=job)
    _cash(small, "1300.00")
    void = InvoiceFactory(customer=customer, job=job)
    Invoice.objects.filter(pk=void.pk).update(status=InvoiceStatus.VOID)
    void.refresh_from_db()
    for target, message in (
        (stranger, "same customer"),
        (small, "only \\$56.00 due"),
        (void, "not open"),
        (source, "already on that invoice"),
    ):
        with pytest.raises(ServiceError, match=message):
            services.payment_move(payment=payment, to_invoice=target, actor=Actor.system())
    assert not PaymentTransfer.objects.exists()
    assert Invoice.objects.get(pk=source.pk).status == InvoiceStatus.PAID


def test_the_move_page_lists_only_open_invoices_and_refuses_bad_input(
    owner_client, customer, job, company
):
    source = InvoiceFactory(customer=customer, job=job)
    target = InvoiceFactory(customer=customer, job=job)
    InvoiceFactory(customer=CustomerFactory(company=company))  # another customer's
    payment = _cash(source)
    url = reverse("billing_dashboard:payment_move", args=[payment.public_id])
    page = owner_client.get(url).content.decode()
    assert target.display_number in page
    assert page.count("<option") == 2  # the prompt and the one open invoice

    for bad in ({"to_invoice": "nope"}, {}, {"to_invoice": source.public_id}):
        answer = owner_client.post(url, bad)
        assert answer.status_code == 200
        assert "Choose" in answer.content.decode()
    assert not PaymentTransfer.objects.exists()

    answer = owner_client.post(url, {"to_invoice": target.public_id, "reason": "typo"})
    assert answer.status_code == 302
    assert Payment.objects.get(pk=payment.pk).invoice_id == target.pk
    detail = owner_client.get(answer["Location"]).content.decode()
    assert "Payment moved to" in detail


def test_refundable_counts_pending_refunds(customer, job, company):
    payment = _cash(InvoiceFactory(customer=customer, job=job))
    Refund.objects.create(
        company=company, payment=payment, amount=Decimal("100.00"), status=RefundStatus.PENDING
    )
    Refund.objects.create(
        company=company, payment=payment, amount=Decimal("6.00"), status=RefundStatus.FAILED
    )
    assert Payment.objects.get(pk=payment.pk).refundable == Decimal("1256.00")


def test_a_refund_in_stripe_of_a_moved_payment_is_recorded_on_its_new_invoice(
    customer, job, connected, hooks, stripe_client
):
    """Stripe's metadata still names the first invoice: not a contradiction after a move."""
    wrong, right = (
        InvoiceFactory(customer=customer, job=job),
        InvoiceFactory(customer=customer, job=job),
    )
    hooks.complete_session(start_checkout(wrong).payment.stripe_session_id)
    payment = Payment.objects.get()
    services.payment_move(payment=payment, to_invoice=right, actor=Actor.system())
    stripe_client.v1.refunds.create(
        {"payment_intent": payment.stripe_payment_intent_id, "amount": 35600},
        options={"stripe_account": connected.account_id},
    )
    charge = hooks.get(hooks.get(payment.stripe_payment_intent_id)["latest_charge"])
    assert hooks.send_event(hooks.build_event("charge.refunded", charge)).status == 200
    assert Refund.objects.get().amount == Decimal("356.00")
    right.refresh_from_db()
    assert right.balance == Decimal("356.00") and right.status == InvoiceStatus.PARTIALLY_PAID
    assert Invoice.objects.get(pk=wrong.pk).amount_paid == 0
