"""What ``scripts/mutation billing-state`` left alive in ``billing/services/stripe_state.py``:
when a payment Stripe reports paid is stamped, which PaymentIntent it stays linked to, what the
row and its issue record when Stripe's answer leaves out the amount or the currency (or carries a
single cent), the receipt of a saved-card charge, writes that must not undo the customer's return
page, and a charge naming a refund another payment holds.

Each test drives the real services against the fake Stripe (``tests/fakes``), changing one field
of Stripe's answer where Stripe has to report something the fake never does by itself, and
asserts what is stored: the payment row, its issue, the refund rows.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.utils import timezone

from billing import services
from billing.models import Payment, PaymentIssue, PaymentStatus, Refund, RefundStatus
from billing.services import returns, stripe_state
from crewcommand.lib.activity import Actor
from documents.models import Invoice
from tests.billing.conftest import start_checkout
from tests.billing.test_manual_refunds_deposits import paid_by_card
from tests.billing.test_services_mutants_3 import (
    _paid_on_stripe,
    _session_now,
    _stripe_answers_refunds_with,
    apply_charge,
    card_saved,
    stripe_refund,
)
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def _issue_of(payment: Payment) -> tuple[str, dict]:
    issue = PaymentIssue.objects.get(payment=payment)
    return issue.kind, issue.details


def _completed_session(invoice, stripe_on, **changes) -> tuple[Payment, dict]:
    """A card attempt on ``invoice`` paid on Stripe's page; its session as Stripe reports it,
    with ``changes`` set as Stripe would send them."""
    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    session = _session_now(payment)
    session.update(changes)
    return payment, session


# _apply_success mutants 3 and 38: the payment is stamped succeeded (and finished) when applied.


def test_a_card_payment_stripe_reports_paid_is_stamped_succeeded_and_finished_then(
    invoice, connected, stripe_on
):
    before = timezone.now()
    (attempt,) = _paid_on_stripe(invoice, stripe_on, 1)
    after = timezone.now()

    payment = Payment.objects.get(pk=attempt.pk)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.succeeded_at is not None and payment.finished_at == payment.succeeded_at
    assert before <= payment.succeeded_at <= after


# _apply_success mutant 4: an attempt already linked to a PaymentIntent keeps that link (refunds
# are asked for on it) whatever intent a later answer names.


def test_an_attempt_already_linked_to_its_intent_keeps_that_link_when_stripe_reports_it_paid(
    invoice, connected, stripe_on
):
    payment, session = _completed_session(invoice, stripe_on)
    assert session["payment_intent"]["id"] != "pi_first_seen"
    Payment.objects.filter(pk=payment.pk).update(stripe_payment_intent_id="pi_first_seen")

    services.stripe_state_apply(payment_id=payment.pk, session=session)

    after = Payment.objects.get(pk=payment.pk)
    assert (after.status, after.applied, after.stripe_payment_intent_id) == (
        PaymentStatus.SUCCEEDED,
        True,
        "pi_first_seen",
    )


# _apply_success mutant 23: a single cent taken for a $1,356.00 invoice is what the row records;
# _apply_session mutant 50 and _apply_success mutant 36: an answer without an amount is taken as
# nothing received, and the row keeps the amount asked. Either way the issue says what was
# taken and the $1,356.00 asked (it said 0 "expected" before the eighth session when nothing
# arrived: the asked amount was kept only when some money did).


@pytest.mark.parametrize(
    ("amount_total", "recorded", "cents"),
    [(1, Decimal("0.01"), 1), (None, Decimal("1356.00"), 0)],
    ids=["one cent", "no amount"],
)
def test_a_paid_session_for_the_wrong_amount_is_flagged_with_what_was_taken_and_asked(
    invoice, connected, stripe_on, amount_total, recorded, cents
):
    payment, session = _completed_session(invoice, stripe_on, amount_total=amount_total)

    services.stripe_state_apply(payment_id=payment.pk, session=session)

    after = Payment.objects.get(pk=payment.pk)
    assert (after.status, after.applied, after.amount, after.currency) == (
        PaymentStatus.SUCCEEDED,
        False,
        recorded,
        "cad",
    )
    assert _issue_of(after) == ("amount", {"cents": cents, "currency": "cad", "expected": 135600})
    assert Invoice.objects.get(pk=invoice.pk).balance == Decimal("1356.00")


# _apply_session mutant 56: an answer without a currency is flagged with no currency recorded
# (none is made up).


def test_a_paid_session_without_a_currency_is_flagged_recording_no_currency(
    invoice, connected, stripe_on
):
    payment, session = _completed_session(invoice, stripe_on, currency=None)

    services.stripe_state_apply(payment_id=payment.pk, session=session)

    after = Payment.objects.get(pk=payment.pk)
    assert (after.status, after.applied, after.amount, after.currency) == (
        PaymentStatus.SUCCEEDED,
        False,
        Decimal("1356.00"),
        "",
    )
    assert _issue_of(after) == (
        "currency",
        {"cents": 135600, "currency": "", "expected": 135600},
    )


# _apply_success mutant 1: a saved-card charge (autopay) claims its receipt in its own
# transaction, not in a task queued after commit.


def test_a_saved_card_charge_that_goes_through_sends_its_receipt_in_the_same_transaction(
    customer, job, connected, stripe_on, django_capture_on_commit_callbacks
):
    from billing.services import autopay

    card_saved(InvoiceFactory(customer=customer, job=job), stripe_on)
    invoice = InvoiceFactory(customer=customer, job=job)

    with django_capture_on_commit_callbacks():  # nothing queued after commit runs
        charged = autopay.saved_card_charge(
            invoice=invoice, actor=Actor.system(), triggered_by="autopay"
        )
        payment = Payment.objects.get(pk=charged.pk)
        assert (payment.status, payment.applied) == (PaymentStatus.SUCCEEDED, True)
        assert payment.receipt_sent_at is not None and payment.company_notified_at is not None


# _apply_session mutant 6 and _record_method mutant 6: applying Stripe's state writes only the
# fields it changes, so the customer's return page marking the attempt returned (a write that
# takes no document lock) between the read and the write is kept.


@pytest.fixture
def customer_returns_meanwhile(monkeypatch):
    """The return page marks the attempt returned right after ``stripe_state_apply`` read it."""
    real = stripe_state.lock_payment

    def read_then_customer_returns(*args, **kwargs):
        locked, payment = real(*args, **kwargs)
        returns._mark_returned(payment)
        return locked, payment

    monkeypatch.setattr(stripe_state, "lock_payment", read_then_customer_returns)


def test_an_attempt_whose_session_id_is_recorded_from_stripes_answer_stays_marked_returned(
    invoice, connected, stripe_on, customer_returns_meanwhile
):
    payment = start_checkout(invoice).payment
    session = _session_now(payment)
    assert session["status"] == "open"
    Payment.objects.filter(pk=payment.pk).update(stripe_session_id=None)  # our write not landed

    services.stripe_state_apply(payment_id=payment.pk, session=session)

    after = Payment.objects.get(pk=payment.pk)
    assert (after.status, after.stripe_session_id) == (PaymentStatus.CREATED, session["id"])
    assert after.returned_at is not None


def test_a_declined_card_recorded_from_stripes_answer_leaves_the_attempt_marked_returned(
    invoice, connected, stripe_on, customer_returns_meanwhile
):
    payment = start_checkout(invoice).payment
    stripe_on.fail_session_payment(payment.stripe_session_id, send_webhook=False)
    session = _session_now(payment)

    services.stripe_state_apply(payment_id=payment.pk, session=session)

    after = Payment.objects.get(pk=payment.pk)
    assert (after.status, after.method_type, after.method_last4) == (
        PaymentStatus.CREATED,
        "card",
        session["payment_intent"]["latest_charge"]["payment_method_details"]["card"]["last4"],
    )
    assert after.failure_message != "" and after.returned_at is not None


# _refund_from_stripe mutant 26: a charge whose refund carries the Stripe id of a refund recorded
# on another payment is refused (nothing applied); it never settles that other payment's refund.


def test_a_charge_naming_another_payments_refund_leaves_that_refund_alone(
    invoice, connected, stripe_on, stripe_client, customer, job, monkeypatch
):
    first = paid_by_card(invoice, connected, stripe_on)
    _stripe_answers_refunds_with(monkeypatch, status="pending")
    waiting = services.refund_create(payment=first, amount=Decimal("10.00"), actor=Actor.system())
    assert waiting.stripe_refund_id
    other = paid_by_card(InvoiceFactory(customer=customer, job=job), connected, stripe_on)
    made = stripe_refund(stripe_client, other, 2000)

    with pytest.raises(IntegrityError):
        apply_charge(other, **{made: {"id": waiting.stripe_refund_id}})

    after = Refund.objects.get(pk=waiting.pk)
    assert (after.payment_id, after.status, after.succeeded_at) == (
        first.pk,
        RefundStatus.PENDING,
        None,
    )
    assert not Refund.objects.filter(payment=other).exists()
    assert Payment.objects.get(pk=first.pk).amount_refunded == Decimal("0.00")
