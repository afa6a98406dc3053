"""Manual payments, refunds (by hand and through Stripe), deposits and their credit on the
invoice, and reconciliation of lost webhooks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from billing import services, stripe_client, tasks
from billing.models import (
    Payment,
    PaymentIssue,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from billing.selectors import deposit_payable
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.models import Activity
from documents import services as documents
from documents.models import Invoice, InvoiceStatus
from tests.billing.conftest import start_checkout
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def paid_by_card(invoice, connected, fake) -> Payment:
    """A card payment that went through (applied as the webhook would)."""
    started = start_checkout(invoice)
    session = fake.complete_session(started.payment.stripe_session_id, send_webhook=False)
    services.stripe_state_apply(
        payment_id=started.payment.pk,
        session=stripe_client.checkout_session_retrieve(
            account=connected.account_id, session_id=session["id"]
        ),
    )
    return Payment.objects.get(pk=started.payment.pk)


# --- Manual payments ---------------------------------------------------------------------------


def test_partial_then_full_manual_payments_move_the_invoice_to_partially_paid_then_paid(
    invoice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        PaymentFactory(
            invoice=invoice, amount="356.00", method=PaymentMethod.ETRANSFER, reference="CA1234"
        )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert invoice.amount_paid == Decimal("356.00") and invoice.balance == Decimal("1000.00")
    with django_capture_on_commit_callbacks(execute=True):
        PaymentFactory(invoice=invoice, amount="1000.00", method=PaymentMethod.CHEQUE)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.balance == 0
    receipts = [m for m in mail.outbox if m.to == [invoice.customer.email]]
    assert len(receipts) == 2
    assert "Balance still due: $1,000.00" in receipts[0].body
    assert "Interac e-Transfer" in receipts[0].body and "CA1234" in receipts[0].body
    assert Activity.objects.filter(verb="payment.recorded").count() == 2


def test_an_overpayment_is_refused_with_a_clear_message_and_no_change(invoice):
    with pytest.raises(ServiceError, match=r"more than the balance of \$1,356.00"):
        PaymentFactory(invoice=invoice, amount="1356.01")
    PaymentFactory(invoice=invoice, amount="1356.00")
    with pytest.raises(ServiceError, match=r"balance of \$0.00"):
        PaymentFactory(invoice=invoice, amount="0.01")
    assert Payment.objects.count() == 1


def test_manual_payments_need_a_manual_method_a_positive_amount_and_a_live_invoice(invoice):
    with pytest.raises(ServiceError):
        PaymentFactory(invoice=invoice, method=PaymentMethod.CARD)
    with pytest.raises(ServiceError):
        PaymentFactory(invoice=invoice, amount="0")
    with pytest.raises(ServiceError, match="future"):
        PaymentFactory(invoice=invoice, received_on=timezone.localdate() + dt.timedelta(days=5))
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.VOID)
    invoice.refresh_from_db()
    with pytest.raises(ServiceError, match="void"):
        PaymentFactory(invoice=invoice)
    assert not Payment.objects.exists()


def test_a_manual_refund_reopens_the_balance_and_the_status_follows(invoice):
    payment = PaymentFactory(invoice=invoice, amount="1356.00")
    services.refund_create(payment=payment, amount=Decimal("356.00"), actor=Actor.system())
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID and invoice.balance == Decimal("356.00")
    services.refund_create(payment=payment, amount=Decimal("1000.00"), actor=Actor.system())
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert invoice.status == InvoiceStatus.SENT and invoice.amount_paid == 0
    assert payment.display_status == "refunded"
    with pytest.raises(ServiceError, match="at most"):
        services.refund_create(payment=payment, amount=Decimal("0.01"), actor=Actor.system())


def test_a_card_refund_goes_through_stripe_partial_then_full(invoice, connected, stripe_on):
    payment = paid_by_card(invoice, connected, stripe_on)
    refund = services.refund_create(payment=payment, amount=Decimal("56.00"), actor=Actor.system())
    assert refund.status == RefundStatus.SUCCEEDED and refund.stripe_refund_id.startswith("re_")
    sent = stripe_on.last_request("/v1/refunds", "POST")
    assert sent.header("Stripe-Account") == connected.account_id
    assert sent.form["amount"] == "5600" and sent.form["metadata"]["cc_refund"] == refund.public_id
    assert sent.header("Idempotency-Key") == f"cc-refund-{refund.public_id}-5600"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID and invoice.balance == Decimal("56.00")
    with pytest.raises(ServiceError, match=r"at most \$1,300.00"):
        services.refund_create(payment=payment, amount=Decimal("1300.01"), actor=Actor.system())
    services.refund_create(payment=payment, amount=Decimal("1300.00"), actor=Actor.system())
    charge = stripe_on.get(stripe_on.get(payment.stripe_payment_intent_id)["latest_charge"])
    assert charge["amount_refunded"] == 135600
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0 and invoice.status == InvoiceStatus.SENT


def test_stripe_refusing_a_refund_marks_it_failed_and_changes_no_money(
    invoice, connected, stripe_on
):
    payment = paid_by_card(invoice, connected, stripe_on)
    # Refunded in Stripe's dashboard meanwhile, so Stripe refuses ours.
    stripe_client.client().v1.refunds.create(
        {"payment_intent": payment.stripe_payment_intent_id},
        options={"stripe_account": connected.account_id},
    )
    with pytest.raises(ServiceError, match="refused"):
        services.refund_create(payment=payment, amount=Decimal("10.00"), actor=Actor.system())
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.FAILED and refund.failure_message
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == invoice.total


# --- Deposits ----------------------------------------------------------------------------------


def test_a_signed_estimate_asks_for_its_deposit_and_checkout_charges_it(
    signed_estimate, connected, stripe_on
):
    payable = deposit_payable(estimate=signed_estimate)
    assert payable.asked == Decimal("565.00")  # 25% of 2000 + 13% HST
    started = start_checkout(signed_estimate)
    assert started.payment.purpose == PaymentPurpose.DEPOSIT
    sent = stripe_on.last_request("/v1/checkout/sessions", "POST").form
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "56500"
    assert sent["metadata"]["cc_estimate"] == signed_estimate.public_id


def test_the_paid_deposit_is_credited_on_the_invoice_made_from_the_estimate(signed_estimate):
    PaymentFactory(estimate=signed_estimate, amount="565.00", method=PaymentMethod.ETRANSFER)
    assert deposit_payable(estimate=signed_estimate).closed == "The deposit is paid."
    # Conversion credits the deposit itself; applying again is idempotent.
    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    credit = services.deposit_credit_apply(invoice=invoice, estimate=signed_estimate)

    assert credit == Decimal("565.00") == invoice.deposit_credit
    invoice.refresh_from_db()
    assert invoice.deposit_credit == Decimal("565.00")
    assert invoice.balance == invoice.total - Decimal("565.00")
    assert invoice.status == InvoiceStatus.DRAFT
    assert Payment.objects.get().invoice == invoice
    assert Activity.objects.filter(verb="deposit.credited").count() == 1
    # Idempotent: applying again changes nothing.
    services.deposit_credit_apply(invoice=invoice, estimate=signed_estimate)
    invoice.refresh_from_db()
    assert invoice.deposit_credit == Decimal("565.00")


def test_refunding_a_deposit_after_conversion_takes_the_credit_back(signed_estimate):
    payment = PaymentFactory(estimate=signed_estimate, amount="565.00")
    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    services.deposit_credit_apply(invoice=invoice, estimate=signed_estimate)
    documents.invoice_send(invoice=invoice, actor=Actor.system())
    PaymentFactory(invoice=invoice, amount=str(invoice.balance))
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID

    services.refund_create(payment=payment, amount=Decimal("65.00"), actor=Actor.system())
    invoice.refresh_from_db()
    assert invoice.deposit_credit == Decimal("500.00")
    assert invoice.balance == Decimal("65.00") and invoice.status == InvoiceStatus.PARTIALLY_PAID


def test_a_deposit_paid_after_the_estimate_was_invoiced_is_flagged(
    signed_estimate, connected, stripe_on
):
    started = start_checkout(signed_estimate)
    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    services.deposit_credit_apply(invoice=invoice, estimate=signed_estimate)
    stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    tasks.reconcile_payments.apply()  # not old enough yet: nothing
    assert Payment.objects.get().status == PaymentStatus.CREATED
    Payment.objects.update(created_at=timezone.now() - dt.timedelta(hours=1))
    tasks.reconcile_payments.apply()
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED and not payment.applied
    assert PaymentIssue.objects.get().kind == "closed"
    invoice.refresh_from_db()
    assert invoice.deposit_credit == 0


def test_deposit_credit_apply_refuses_an_unrelated_invoice(signed_estimate, invoice):
    with pytest.raises(ServiceError, match="not made from that estimate"):
        services.deposit_credit_apply(invoice=invoice, estimate=signed_estimate)


@pytest.mark.django_db(transaction=True)
def test_deposit_credit_apply_outside_a_transaction_is_refused_and_changes_nothing(
    signed_estimate,
):
    """Outside the conversion's transaction (autocommit) each statement would commit alone:
    the deposit moved to the invoice without its credit. Refused before anything is written."""
    from django.db import transaction

    deposit = PaymentFactory(estimate=signed_estimate, amount="565.00")
    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    Payment.objects.filter(pk=deposit.pk).update(invoice=None)  # as before the conversion
    assert not transaction.get_connection().in_atomic_block

    with pytest.raises(RuntimeError, match="inside the conversion's transaction"):
        services.deposit_credit_apply(invoice=invoice, estimate=signed_estimate)

    assert Payment.objects.get(pk=deposit.pk).invoice_id is None
    assert Invoice.objects.get(pk=invoice.pk).deposit_credit == Decimal("565.00")


# --- Reconciliation ----------------------------------------------------------------------------


def _age(minutes: int = 60) -> None:
    Payment.objects.update(created_at=timezone.now() - dt.timedelta(minutes=minutes))


def test_a_lost_webhook_heals_itself_through_the_beat_task(
    invoice, connected, stripe_on, django_capture_on_commit_callbacks
):
    started = start_checkout(invoice)
    stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    _age()
    with django_capture_on_commit_callbacks(execute=True):
        report = tasks.reconcile_payments.apply().get()
    assert report["checked"] == 1 and report["changed"] == 1
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert len([m for m in mail.outbox if m.to == [invoice.customer.email]]) == 1


def test_the_management_command_reconciles_and_reports(invoice, connected, stripe_on, capsys):
    paid, abandoned, expired = (
        start_checkout(invoice),
        start_checkout(invoice),
        start_checkout(invoice),
    )
    stripe_on.complete_session(paid.payment.stripe_session_id, send_webhook=False)
    stripe_on.expire_session(expired.payment.stripe_session_id, send_webhook=False)
    Payment.objects.filter(pk=abandoned.payment.pk).update(stripe_session_id=None)
    _age()
    call_command("reconcile_payments", "--older-than", "30")
    out = capsys.readouterr().out
    assert "checked: 3" in out and "abandoned: 1" in out
    statuses = dict(Payment.objects.values_list("pk", "status"))
    assert statuses == {
        paid.payment.pk: PaymentStatus.SUCCEEDED,
        abandoned.payment.pk: PaymentStatus.CANCELLED,
        expired.payment.pk: PaymentStatus.CANCELLED,
    }


def test_reconciliation_flags_a_mismatch_instead_of_applying_it(invoice, connected, stripe_on):
    started = start_checkout(invoice)
    session = stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    with stripe_on.lock:
        stripe_on.objects[session["id"]]["currency"] = "usd"
    _age()
    tasks.reconcile_payments.apply()
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED and not payment.applied
    assert PaymentIssue.objects.get().kind == "currency"
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == 0


def test_reconciliation_leaves_fresh_attempts_and_survives_stripe_being_down(
    invoice, connected, settings
):
    start_checkout(invoice)
    _age()
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    report = tasks.reconcile_payments.apply().get()
    assert report["errors"] == 1
    assert Payment.objects.get().status == PaymentStatus.CREATED


def test_a_refund_left_pending_is_asked_for_again_with_the_same_key(invoice, connected, stripe_on):
    payment = paid_by_card(invoice, connected, stripe_on)
    refund = Refund.objects.create(
        company=payment.company,
        payment=payment,
        amount=Decimal("100.00"),
        status=RefundStatus.PENDING,
    )
    # The first request reached Stripe but its answer was lost.
    made = stripe_client.refund_create(
        account=connected.account_id,
        payment_intent=payment.stripe_payment_intent_id,
        amount_cents=10_000,
        metadata=services.refund_metadata(refund),
        idempotency_key=services.refund_idempotency_key(refund),
        reason="requested_by_customer",
    )
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    tasks.reconcile_payments.apply()
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.stripe_refund_id == made["id"]
    assert stripe_on.last_request("/v1/refunds", "POST").header(
        "Idempotency-Key"
    ) == services.refund_idempotency_key(refund)
    charge = stripe_on.get(stripe_on.get(payment.stripe_payment_intent_id)["latest_charge"])
    assert charge["amount_refunded"] == 10_000
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("100.00")
