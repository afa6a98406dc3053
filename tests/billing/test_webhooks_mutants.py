"""Stripe events that carry none of our metadata are matched by Stripe's own ids.

``scripts/mutation billing-webhooks`` showed that the lookup by session, payment-intent and
charge ids (``billing.webhooks._by_stripe_id``) could be broken without a test failing: every
webhook test sent our metadata along. A refund made in Stripe's dashboard or an event whose
metadata was lost must still land on the right payment.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import Payment, PaymentStatus, Refund
from tests.billing.conftest import start_checkout

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_completed_session_without_metadata_is_found_by_its_id(invoice, connected, hooks):
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    assert Payment.objects.get().status != PaymentStatus.SUCCEEDED
    event = hooks.build_event("checkout.session.completed", {**session, "metadata": {}})
    assert hooks.send_event(event).status == 200
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED


@pytest.mark.parametrize("expanded", [False, True])
def test_a_refund_without_metadata_is_found_by_its_payment_intent(
    invoice, connected, hooks, stripe_client, expanded
):
    started = start_checkout(invoice)
    hooks.complete_session(started.payment.stripe_session_id)
    payment = Payment.objects.get()
    stripe_client.v1.refunds.create(
        {"payment_intent": payment.stripe_payment_intent_id, "amount": 35600},
        options={"stripe_account": connected.account_id},
    )
    charge = hooks.get(hooks.get(payment.stripe_payment_intent_id)["latest_charge"])
    intent = charge["payment_intent"]
    charge = {**charge, "metadata": {}, "payment_intent": {"id": intent} if expanded else intent}
    assert hooks.send_event(hooks.build_event("charge.refunded", charge)).status == 200
    assert Refund.objects.get().amount == Decimal("356.00")


def test_a_charge_event_for_no_payment_of_ours_changes_nothing(invoice, connected, hooks):
    started = start_checkout(invoice)
    hooks.complete_session(started.payment.stripe_session_id)
    payment = Payment.objects.get()
    charge = hooks.get(hooks.get(payment.stripe_payment_intent_id)["latest_charge"])
    for intent in ("pi_not_ours", None):
        event = hooks.build_event(
            "charge.refunded", {**charge, "metadata": {}, "payment_intent": intent}
        )
        assert hooks.send_event(event).status == 200
    assert not Refund.objects.exists()
