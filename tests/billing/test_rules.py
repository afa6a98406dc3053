"""Billing rules that only a wrong number would show: deposits paid twice or in full, a deposit
credit larger than its invoice, refunds while one is pending or of money that never arrived,
card amounts Stripe can't take, a flagged payment partly refunded, fixed-amount deposits.
Each goes through the services (and the portal where a customer would see it)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import services, stripe_client
from billing.models import (
    IssueKind,
    Payment,
    PaymentIssue,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundKind,
    RefundStatus,
)
from billing.selectors import deposit_paid, deposit_payable
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from documents import services as documents
from documents.models import Invoice, InvoiceStatus
from tests.billing.conftest import deposit, roof, start_checkout
from tests.billing.test_manual_refunds_deposits import paid_by_card
from tests.billing.test_portal_pay import issue, url
from tests.factories import InvoiceFactory, PaymentFactory, SignedEstimateFactory

pytestmark = pytest.mark.django_db


def _apply(connected, payment: Payment) -> Payment:
    """What the webhook does: apply Stripe's current state of the attempt."""
    services.stripe_state_apply(
        payment_id=payment.pk,
        session=stripe_client.checkout_session_retrieve(
            account=connected.account_id, session_id=payment.stripe_session_id
        ),
    )
    return Payment.objects.get(pk=payment.pk)


# --- Deposits ----------------------------------------------------------------------------------


def test_a_deposit_recorded_by_hand_can_never_exceed_what_is_due(signed_estimate):
    with pytest.raises(ServiceError, match=r"more than the deposit due of \$565.00"):
        PaymentFactory(estimate=signed_estimate, amount="565.01")
    PaymentFactory(estimate=signed_estimate, amount="300.00")
    with pytest.raises(ServiceError, match=r"more than the deposit due of \$265.00"):
        PaymentFactory(estimate=signed_estimate, amount="265.01")
    PaymentFactory(estimate=signed_estimate, amount="265.00")
    with pytest.raises(ServiceError, match=r"The deposit is paid\."):
        PaymentFactory(estimate=signed_estimate, amount="0.01")
    assert deposit_paid(estimate_id=signed_estimate.pk) == Decimal("565.00")
    assert Payment.objects.count() == 2


def test_a_deposit_paid_twice_by_card_is_applied_once_and_the_second_flagged(
    signed_estimate, connected, stripe_on
):
    first, second = start_checkout(signed_estimate), start_checkout(signed_estimate)
    for started in (first, second):
        stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    applied, flagged = _apply(connected, first.payment), _apply(connected, second.payment)

    assert applied.applied and not flagged.applied
    assert flagged.status == PaymentStatus.SUCCEEDED
    assert PaymentIssue.objects.get(payment=flagged).kind == IssueKind.OVERPAID
    assert deposit_paid(estimate_id=signed_estimate.pk) == Decimal("565.00")
    assert deposit_payable(estimate=signed_estimate).due == 0


def test_a_fixed_deposit_is_asked_charged_and_credited_at_its_face_value(
    customer, connected, stripe_on
):
    estimate = SignedEstimateFactory(
        customer=customer, lines=roof("2000.00"), revision=deposit(fixed="300.00")
    )
    payable = deposit_payable(estimate=estimate)
    assert payable.asked == payable.due == Decimal("300.00")  # not 300 % of anything, no tax on top

    started = start_checkout(estimate)
    sent = stripe_on.last_request("/v1/checkout/sessions", "POST").form
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "30000"
    stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    assert _apply(connected, started.payment).applied

    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    invoice.refresh_from_db()
    assert invoice.total == Decimal("2260.00")  # 2000.00 + 13 % HST
    assert invoice.deposit_credit == Decimal("300.00")
    assert invoice.balance == Decimal("1960.00")


def test_a_fixed_deposit_above_the_total_asks_for_the_total_only(customer, connected):
    estimate = SignedEstimateFactory(
        customer=customer, lines=roof("100.00"), revision=deposit(fixed="5000.00")
    )
    assert deposit_payable(estimate=estimate).asked == Decimal("113.00")
    with pytest.raises(ServiceError, match=r"more than the deposit due of \$113.00"):
        PaymentFactory(estimate=estimate, amount="113.01")


def test_an_invoice_cannot_be_lowered_below_the_deposit_credited_on_it(signed_estimate):
    """$565 paid, then the contractor cuts the converted draft to $226: that would swallow
    $339 of the customer's money. Refused until that part of the deposit is refunded."""
    deposit = PaymentFactory(estimate=signed_estimate, amount="565.00")
    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    line = invoice.lines.get()

    with pytest.raises(ServiceError, match=r"deposit of \$565.00 is credited"):
        documents.line_save(
            doc=invoice,
            actor=Actor.system(),
            line_id=line.public_id,
            fields={"unit_price": Decimal("200.00")},
        )
    invoice.refresh_from_db()
    assert invoice.total == Decimal("2260.00") and invoice.deposit_credit == Decimal("565.00")

    services.refund_create(
        payment=deposit, amount=Decimal("339.00"), actor=Actor.system(), kind=RefundKind.REVERSAL
    )
    documents.line_save(
        doc=invoice,
        actor=Actor.system(),
        line_id=line.public_id,
        fields={"unit_price": Decimal("200.00")},
    )
    invoice.refresh_from_db()
    assert invoice.total == invoice.deposit_credit == Decimal("226.00")
    assert invoice.balance == 0
    documents.invoice_send(invoice=invoice, actor=Actor.system())
    assert Invoice.objects.get(pk=invoice.pk).balance == 0


# --- Refunds -----------------------------------------------------------------------------------


def test_a_second_refund_while_one_is_pending_counts_the_pending_one(
    invoice, connected, stripe_on, settings
):
    payment = paid_by_card(invoice, connected, stripe_on)
    base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # Stripe does not answer: left pending
    with pytest.raises(ServiceError, match="did not answer"):
        services.refund_create(payment=payment, amount=Decimal("1000.00"), actor=Actor.system())
    pending = Refund.objects.get()
    assert pending.status == RefundStatus.PENDING
    settings.STRIPE_API_BASE = base

    with pytest.raises(ServiceError, match=r"at most \$356.00"):
        services.refund_create(payment=payment, amount=Decimal("356.01"), actor=Actor.system())
    services.refund_create(payment=payment, amount=Decimal("356.00"), actor=Actor.system())

    assert [r.amount for r in Refund.objects.order_by("pk")] == [
        Decimal("1000.00"),
        Decimal("356.00"),
    ]
    assert len(stripe_on.requests_to("/v1/refunds", "POST")) == 1
    invoice.refresh_from_db()
    assert invoice.balance == Decimal("356.00")  # only what went through counts


def test_a_payment_that_never_went_through_cannot_be_refunded(customer, connected, stripe_on):
    """A bank payment still processing has a PaymentIntent at Stripe, but no money yet."""
    invoice = InvoiceFactory(customer=customer)
    started = start_checkout(invoice)
    stripe_on.complete_session(
        started.payment.stripe_session_id, send_webhook=False, async_payment=True
    )
    processing = _apply(connected, started.payment)
    assert processing.status == PaymentStatus.PROCESSING and processing.stripe_payment_intent_id
    never_paid = start_checkout(InvoiceFactory(customer=customer)).payment

    for payment in (processing, never_paid):
        with pytest.raises(ServiceError, match="Only a payment that went through"):
            services.refund_create(payment=payment, amount=Decimal("10.00"), actor=Actor.system())
    assert not Refund.objects.exists()
    assert not stripe_on.requests_to("/v1/refunds")


def test_a_flagged_payment_stays_flagged_until_it_is_refunded_in_full(
    invoice, connected, stripe_on
):
    first, second = start_checkout(invoice), start_checkout(invoice)
    for started in (first, second):
        stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    _apply(connected, first.payment)
    flagged = _apply(connected, second.payment)
    assert not flagged.applied

    services.refund_create(payment=flagged, amount=Decimal("500.00"), actor=Actor.system())
    issue_ = PaymentIssue.objects.get(payment=flagged)
    assert issue_.resolved_at is None, "$856.00 of the duplicate is still the customer's"
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("1356.00") and invoice.status == InvoiceStatus.PAID

    services.refund_create(payment=flagged, amount=Decimal("856.00"), actor=Actor.system())
    issue_.refresh_from_db()
    assert issue_.resolved_at is not None and issue_.resolution == "Refunded"
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("1356.00") and invoice.status == InvoiceStatus.PAID


# --- What Stripe can't take --------------------------------------------------------------------


def test_a_balance_below_fifty_cents_gets_no_pay_button_and_no_checkout(
    customer, connected, stripe_on, client
):
    tiny = InvoiceFactory(
        customer=customer, lines=({"description": "Washer", "unit_price": "0.43"},)
    )  # 0.43 + 13 % = 0.49
    assert tiny.balance == Decimal("0.49")
    part_paid = InvoiceFactory(customer=customer)
    PaymentFactory(invoice=part_paid, amount="1355.51", method=PaymentMethod.CHEQUE)  # leaves $0.49
    for invoice in (tiny, part_paid):
        invoice.refresh_from_db()
        assert invoice.balance == Decimal("0.49")
        with pytest.raises(ServiceError, match="too small to pay by card"):
            start_checkout(invoice)
        link = issue(customer, invoice)
        page = client.get(url(link, "invoice", invoice.public_id)).content.decode()
        assert 'id="pay-button"' not in page
        client.post(url(link, "pay_invoice", invoice.public_id))
    assert not Payment.objects.filter(method=PaymentMethod.CARD).exists()
    assert not stripe_on.requests_to("/v1/checkout/sessions", "POST")
    assert Payment.objects.get().purpose == PaymentPurpose.INVOICE
