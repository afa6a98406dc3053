"""What a fresh ``scripts/mutation billing-webhooks`` run (no shared test database) found
untested in ``billing/webhooks.py``.

An event found by its Stripe id whose metadata names another attempt than the one found was
rejected with a reason no test read (``_check``'s "payment differs"): the reason is what an
operator sees on the stored row and in the admin's Stripe events list, and what the log says.
And an event carrying no object id must match nothing, even a payment whose intent id was
stored empty: filtering on an empty id would hand that payment Stripe's state.
"""

from __future__ import annotations

import logging

import pytest

from billing.models import Payment, PaymentStatus, StripeEvent
from tests.billing.conftest import start_checkout
from tests.billing.test_webhooks_mutants_2 import _answer, logged

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


# --- _check: "payment differs" (x__check__mutmut_9, _10, _11) ------------------------------------


@pytest.mark.parametrize("named", ["pay_no_such_attempt", None])
def test_an_event_found_by_its_session_but_naming_no_such_attempt_is_rejected_as_payment_differs(
    invoice, connected, hooks, admin_client, caplog, named
):
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    metadata = {**session["metadata"], "cc_payment": named}
    if named is None:
        del metadata["cc_payment"]  # our other keys are still there
    assert metadata["cc_company"] and metadata["cc_invoice"] == invoice.public_id
    event = hooks.build_event("checkout.session.completed", {**session, "metadata": metadata})
    with caplog.at_level(logging.WARNING, logger="billing.webhooks"):
        assert _answer(hooks.send_event(event)) == (200, "rejected")
    row = StripeEvent.objects.get()
    assert (row.event_id, row.status, row.last_error) == (
        event["id"],
        "rejected",
        "payment differs",
    )
    assert f"stripe event {event['id']} rejected: payment differs" in logged(caplog)
    assert Payment.objects.get().status == PaymentStatus.CREATED
    listing = admin_client.get("/admin/billing/stripeevent/").content.decode()
    assert '<td class="field-last_error">payment differs</td>' in listing


# --- _by_stripe_id: an intent event without an id (x__by_stripe_id__mutmut_27) -------------------


@pytest.mark.parametrize("object_id", ["", None])
def test_an_intent_event_without_an_id_does_not_match_a_payment_whose_intent_id_is_empty(
    invoice, connected, hooks, object_id
):
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    intent = hooks.get(session["payment_intent"])
    # A payment whose intent id was written empty (not NULL): nothing may treat "" as an id.
    Payment.objects.filter(pk=started.payment.pk).update(stripe_payment_intent_id="")
    event = hooks.build_event("payment_intent.succeeded", {**intent, "metadata": {}})
    if object_id is None:
        del event["data"]["object"]["id"]
    else:
        event["data"]["object"]["id"] = object_id
    assert _answer(hooks.send_event(event)) == (200, "ignored")
    row = StripeEvent.objects.get()
    assert (row.last_error, row.payment_id) == ("about no payment of ours", None)
    payment = Payment.objects.get()
    assert (payment.status, payment.stripe_payment_intent_id) == (PaymentStatus.CREATED, "")
