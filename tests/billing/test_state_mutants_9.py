"""What ``scripts/mutation billing-state`` left alive after the eighth session: the locked estimate
handed to a deposit payment (no second read of it, ``billing/services/ledger.py``), and a new
decline message from Stripe written without undoing the customer's return page
(``billing/services/stripe_state.py``).

The payment's own documents are read once, locked, by ``lock_payment``; applying a deposit
Stripe reports paid then costs a fixed number of queries, as an invoice payment does
(``test_applying_a_paid_card_session_takes_a_fixed_number_of_queries`` in
``test_services_mutants_3``).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import services
from billing.models import Payment, PaymentPurpose, PaymentStatus
from billing.selectors import deposit_payable
from tests.billing.conftest import deposit, roof, start_checkout
from tests.billing.test_services_mutants_3 import _paid_on_stripe, _session_now
from tests.billing.test_state_mutants_8 import customer_returns_meanwhile  # noqa: F401
from tests.factories import SignedEstimateFactory

pytestmark = pytest.mark.django_db


# lock_payment mutant 47: a deposit payment reuses its estimate as locked; the estimate is not
# read a second time (e.g. for the timeline row ``log_payment`` writes on the payment's document).


def test_applying_a_paid_deposit_card_session_takes_a_fixed_number_of_queries(
    signed_estimate, customer, job, connected, stripe_on, django_assert_num_queries
):
    # A first deposit paid on another estimate of the same customer warms the caches.
    other = SignedEstimateFactory(customer=customer, job=job, lines=roof(), revision=deposit())
    (warm,) = _paid_on_stripe(other, stripe_on, 1)
    assert Payment.objects.get(pk=warm.pk).applied
    payment = start_checkout(signed_estimate).payment
    assert payment.purpose == PaymentPurpose.DEPOSIT and payment.invoice_id is None
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    session = _session_now(payment)

    with django_assert_num_queries(55):
        services.stripe_state_apply(payment_id=payment.pk, session=session)

    after = Payment.objects.get(pk=payment.pk)
    assert (after.status, after.applied) == (PaymentStatus.SUCCEEDED, True)
    assert deposit_payable(estimate=signed_estimate).due == Decimal("0.00")
    # 25 % of $2,000.00 with 13 % HST: $565.00, all of the deposit, paid.
    assert deposit_payable(estimate=signed_estimate).paid == after.amount == Decimal("565.00")


# _apply_session mutant 109: a second decline on Stripe's page (the same card, a new reason)
# records only the new message, so the return page marking the attempt returned between the
# read and the write is kept. (test_state_mutants_8's first-decline test kills it too, behind
# the card's write.)


def test_a_new_decline_message_leaves_the_attempt_marked_returned_meanwhile(
    invoice, connected, stripe_on, request
):
    payment = start_checkout(invoice).payment
    stripe_on.fail_session_payment(payment.stripe_session_id, send_webhook=False)
    session = _session_now(payment)
    services.stripe_state_apply(payment_id=payment.pk, session=session)
    first = Payment.objects.get(pk=payment.pk)
    assert first.failure_message == "Your card was declined."
    assert (first.status, first.returned_at) == (PaymentStatus.CREATED, None)
    session["payment_intent"]["last_payment_error"]["message"] = "Your card has insufficient funds."
    request.getfixturevalue("customer_returns_meanwhile")

    services.stripe_state_apply(payment_id=payment.pk, session=session)

    after = Payment.objects.get(pk=payment.pk)
    assert (after.status, after.failure_message) == (
        PaymentStatus.CREATED,
        "Your card has insufficient funds.",
    )
    assert after.returned_at is not None
