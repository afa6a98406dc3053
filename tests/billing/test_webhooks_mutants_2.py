"""What ``scripts/mutation billing-webhooks`` found untested in ``billing/webhooks.py``.

``_account_updated`` (a connected account gaining or losing the right to take charges) was
reached by no test of the module (nor was a ``payment_refresh`` wrapper, since removed as dead
code: reconciliation and the return page call ``billing.services.payment_refresh``, tested
here), and ``_current_state`` was only
ever run with a payment whose Checkout Session id we had already written: its other path,
asking Stripe which session a payment intent belongs to, could be broken unnoticed. That path
is taken when an event reaches us before the session id is stored (the session was created
but our write of its id has not landed). The tests below put a payment in that state with an
update, then send real, signed events from the fake Stripe. The webhook answers 200 and
queues the event; tasks run inline in tests, so by the answer the stored row holds the outcome
(``applied``, ``ignored``, ``rejected``, ``failed``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services, webhooks
from billing.models import Payment, PaymentStatus, Refund, StripeAccount, StripeEvent
from tests.billing.conftest import start_checkout, store_event
from tests.factories import CompanyFactory, InvoiceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _answer(delivery) -> tuple[int, str]:
    """The HTTP status, and what processing did: the stored row's status, or the answer's body
    for an event that was not stored."""
    body = delivery.body.decode()
    if body != "queued":
        return delivery.status, body
    return delivery.status, StripeEvent.objects.order_by("-id").values_list("status", flat=True)[0]


# --- account.updated ---------------------------------------------------------------------------


def test_account_updated_records_that_the_account_can_no_longer_take_charges(connected, hooks):
    other = StripeAccount.objects.create(
        company=CompanyFactory(),
        account_id=hooks.add_account()["id"],
        charges_enabled=True,
        details_submitted=True,
    )
    data = {**hooks.get(connected.account_id), "charges_enabled": False}
    data["details_submitted"] = False
    event = hooks.build_event("account.updated", data, account=connected.account_id)
    assert _answer(hooks.send_event(event)) == (200, "applied")
    row = StripeAccount.objects.get(pk=connected.pk)
    assert not row.charges_enabled and not row.details_submitted
    other.refresh_from_db()
    assert other.charges_enabled and other.details_submitted


def test_account_updated_sent_to_the_platform_endpoint_applies_too(connected, hooks):
    """The platform's own endpoint sends account events without an ``account`` field."""
    StripeAccount.objects.filter(pk=connected.pk).update(
        charges_enabled=False, details_submitted=False
    )
    event = hooks.build_event("account.updated", hooks.get(connected.account_id))
    event.pop("account", None)
    assert _answer(hooks.send_event(event)) == (200, "applied")
    row = StripeAccount.objects.get(pk=connected.pk)
    assert row.charges_enabled and row.details_submitted


def test_account_updated_about_another_account_than_the_sender_is_ignored(connected, hooks):
    stranger = hooks.add_account()["id"]
    data = {**hooks.get(connected.account_id), "charges_enabled": False}
    event = hooks.build_event("account.updated", data, account=stranger)
    assert _answer(hooks.send_event(event)) == (200, "ignored")
    assert StripeAccount.objects.get(pk=connected.pk).charges_enabled


@pytest.mark.parametrize("object_id", [None, "", "ba_123", "cus_acct_123"])
def test_account_updated_without_an_account_id_is_ignored(connected, hooks, object_id):
    data = {**hooks.get(connected.account_id), "id": object_id, "charges_enabled": False}
    event = hooks.build_event("account.updated", data, account=connected.account_id)
    if object_id is None:
        del event["data"]["object"]["id"]
    assert _answer(hooks.send_event(event)) == (200, "ignored")
    assert StripeAccount.objects.get(pk=connected.pk).charges_enabled


# --- _current_state: finding the session when we have not stored its id yet ---------------------


def _unrecorded(payment: Payment) -> None:
    """The moment between Stripe creating the session and our write of its id landing."""
    Payment.objects.filter(pk=payment.pk).update(
        stripe_session_id=None, stripe_payment_intent_id=None
    )


def test_a_completed_session_is_applied_before_its_id_is_stored(invoice, connected, hooks):
    started = start_checkout(invoice)
    _unrecorded(started.payment)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    event = hooks.build_event("checkout.session.completed", session)
    assert _answer(hooks.send_event(event)) == (200, "applied")
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.stripe_payment_intent_id == session["payment_intent"]


@pytest.mark.parametrize(
    "event_type", ["payment_intent.succeeded", "payment_intent.payment_failed"]
)
def test_an_intent_event_asks_stripe_which_session_it_belongs_to(
    invoice, connected, hooks, event_type
):
    started = start_checkout(invoice)
    _unrecorded(started.payment)
    if event_type == "payment_intent.succeeded":
        session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
        intent = hooks.get(session["payment_intent"])
    else:
        intent = hooks.fail_session_payment(started.payment.stripe_session_id, send_webhook=False)
    event = hooks.build_event(event_type, intent)
    assert _answer(hooks.send_event(event)) == (200, "applied")
    payment = Payment.objects.get()
    expected = (
        PaymentStatus.SUCCEEDED if event_type == "payment_intent.succeeded" else payment.status
    )
    assert payment.status == expected
    if event_type == "payment_intent.succeeded":
        assert payment.stripe_payment_intent_id == intent["id"]
    assert StripeEvent.objects.get().event_id == event["id"]


def test_a_refund_event_asks_stripe_which_session_its_intent_belongs_to(
    invoice, connected, hooks, stripe_client
):
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id)
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    stripe_client.v1.refunds.create(
        {"payment_intent": session["payment_intent"], "amount": 35600},
        options={"stripe_account": connected.account_id},
    )
    Payment.objects.filter(pk=payment.pk).update(stripe_session_id=None)
    charge = hooks.get(hooks.get(session["payment_intent"])["latest_charge"])
    assert _answer(hooks.send_event(hooks.build_event("charge.refunded", charge))) == (
        200,
        "applied",
    )
    assert Refund.objects.get().amount == Decimal("356.00")


def test_a_refund_update_event_fetches_the_refunds_charge(invoice, connected, hooks, stripe_client):
    """``charge.refund.updated`` carries a refund: the charge is its ``charge`` field."""
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id)
    refund = stripe_client.v1.refunds.create(
        {"payment_intent": session["payment_intent"], "amount": 10000},
        options={"stripe_account": connected.account_id},
    )
    data = hooks.get(refund.id)
    event = hooks.build_event("charge.refund.updated", data, account=connected.account_id)
    assert _answer(hooks.send_event(event)) == (200, "applied")
    assert Refund.objects.get().amount == Decimal("100.00")


def test_an_intent_no_session_of_ours_knows_is_rejected(invoice, connected, hooks):
    started = start_checkout(invoice)
    _unrecorded(started.payment)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    intent = {**hooks.get(session["payment_intent"]), "id": "pi_no_such_intent"}
    event = hooks.build_event("payment_intent.succeeded", intent, account=connected.account_id)
    assert _answer(hooks.send_event(event)) == (200, "failed")
    assert Payment.objects.get().status != PaymentStatus.SUCCEEDED
    row = StripeEvent.objects.get()
    assert row.payment is None and row.last_error == "no session for this payment intent"


def test_a_session_stripe_cannot_find_is_failed_not_retried(invoice, connected, hooks):
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    Payment.objects.filter(pk=started.payment.pk).update(stripe_session_id="cs_gone")
    event = hooks.build_event(
        "checkout.session.completed", {**session, "id": "cs_gone"}, account=connected.account_id
    )
    assert _answer(hooks.send_event(event)) == (200, "failed")
    assert Payment.objects.get().status != PaymentStatus.SUCCEEDED
    row = StripeEvent.objects.get()
    assert (row.attempts, row.retry_at) == (1, None) and "cs_gone" in row.last_error


# --- billing.services.payment_refresh (reconciliation's path) ---------------------------------------------------------------------------


def test_payment_refresh_applies_stripes_state_without_an_event(invoice, connected, hooks):
    started = start_checkout(invoice)
    hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    payment = Payment.objects.get()
    session = services.payment_refresh(payment=payment)
    assert session["id"] == payment.stripe_session_id and session["payment_status"] == "paid"
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert not StripeEvent.objects.exists()


def test_payment_refresh_fetches_refunds_only_when_asked(invoice, connected, hooks, stripe_client):
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id)
    stripe_client.v1.refunds.create(
        {"payment_intent": session["payment_intent"], "amount": 35600},
        options={"stripe_account": connected.account_id},
    )
    payment = Payment.objects.get()
    services.payment_refresh(payment=payment)
    assert not Refund.objects.exists()
    services.payment_refresh(payment=payment, with_refunds=True)
    assert Refund.objects.get().amount == Decimal("356.00")


def test_a_charge_event_naming_no_intent_is_not_matched_to_an_open_checkout(
    invoice, connected, hooks
):
    """An open checkout has no payment intent yet: a charge without one must not land on it."""
    paid = start_checkout(invoice)
    hooks.complete_session(paid.payment.stripe_session_id)
    charge = hooks.get(hooks.get(Payment.objects.get().stripe_payment_intent_id)["latest_charge"])
    start_checkout(InvoiceFactory(customer=invoice.customer))
    assert Payment.objects.filter(stripe_payment_intent_id=None).count() == 1
    event = hooks.build_event("charge.refunded", {**charge, "metadata": {}, "payment_intent": None})
    assert _answer(hooks.send_event(event)) == (200, "ignored")
    assert StripeEvent.objects.get(event_id=event["id"]).payment is None
    assert not Refund.objects.exists()


def test_an_expired_session_is_applied_before_its_id_is_stored(invoice, connected, hooks):
    """An expired session has no payment intent to look it up by: its own id is used."""
    start_checkout(InvoiceFactory(customer=invoice.customer))  # another open session on the account
    started = start_checkout(invoice)
    _unrecorded(started.payment)
    session = hooks.expire_session(started.payment.stripe_session_id, send_webhook=False)
    event = hooks.build_event("checkout.session.expired", session)
    assert _answer(hooks.send_event(event)) == (200, "applied")
    assert Payment.objects.get(pk=started.payment.pk).status == PaymentStatus.CANCELLED


# --- Queueing (enqueue, _retry_later): with a broker, not inline -------------------------------
# Tasks run inline in tests; these switch to a real publish (kombu's in-memory broker, or a
# broker address where nothing listens) and read back what was queued, without a worker.


def logged(caplog) -> list[str]:
    """The log messages, each whole (a changed message must not pass as a part of it)."""
    return [record.getMessage() for record in caplog.records]


@contextlib.contextmanager
def _broker(url: str):
    from crewcommand.celery import app

    previous = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    _point(app, url)
    try:
        yield app
    finally:
        app.conf.task_always_eager = previous[0]
        _point(app, previous[1])


def _point(app, url: str) -> None:
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None  # the producers are bound to the pool's broker URL
    webhooks._broker_down_until = 0.0


def _published(app) -> list[tuple[str, dt.datetime | None, dict]]:
    """The tasks waiting in the queue (taken off it): (name, eta, kwargs)."""
    found = []
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue(app.conf.task_default_queue)
        try:
            while True:
                try:
                    message = queue.get_nowait()
                except queue.Empty:
                    break
                eta = message.headers.get("eta")
                found.append(
                    (
                        message.headers["task"],
                        dt.datetime.fromisoformat(eta) if eta else None,
                        message.payload[1],
                    )
                )
                message.ack()
        finally:
            queue.close()
    return found


def test_enqueue_publishes_the_task_and_pauses_publishing_after_a_broker_failure(caplog):
    with _broker("memory://localhost/") as app:
        _published(app)
        before = timezone.now()
        assert webhooks.enqueue(41, countdown=30) is True
        assert webhooks.enqueue(42) is True
        (first, second) = _published(app)
        assert first[0] == second[0] == "billing.tasks.process_stripe_event"
        assert (first[2], second[2]) == ({"event_pk": 41}, {"event_pk": 42})
        assert 29 <= (first[1] - before).total_seconds() <= 31 and second[1] is None

        _point(app, "redis://127.0.0.1:9/0")  # the broker is down
        with caplog.at_level(logging.WARNING, logger="billing.webhooks"):
            assert webhooks.enqueue(43) is False
        assert "stripe event row 43: enqueue failed; the sweep will retry" in logged(caplog)
        assert 4 < webhooks._broker_down_until - time.monotonic() <= 5
        down_until = webhooks._broker_down_until
        app.conf.broker_url = "memory://localhost/"  # back, but within the pause: not tried
        app._pool = None
        app.amqp._producer_pool = None
        assert webhooks.enqueue(44) is False
        assert webhooks._broker_down_until == down_until and _published(app) == []


def test_enqueue_inline_raises_the_tasks_own_error():
    with pytest.raises(ValueError):
        webhooks.enqueue("not a row id")
    assert webhooks._broker_down_until == 0.0  # inline: no pause


def test_an_event_stripe_could_not_answer_is_queued_again_for_its_retry_time_unless_far_off(
    invoice, connected, stripe_on, caplog
):
    started = start_checkout(invoice)
    session = stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    event = stripe_on.build_event("checkout.session.completed", session)
    pk = store_event(event)
    stripe_on.api_failure = 500
    with _broker("memory://localhost/") as app:
        _published(app)
        for attempts, wait in ((0, 10), (5, 320)):
            StripeEvent.objects.filter(pk=pk).update(attempts=attempts, retry_at=None)
            with caplog.at_level(logging.WARNING, logger="billing.webhooks"):
                assert webhooks.event_process(event_pk=pk) == "received"
            row = StripeEvent.objects.get(pk=pk)
            assert (row.status, row.attempts) == ("received", attempts + 1)
            assert row.last_error
            ((_task, eta, kwargs),) = _published(app)
            assert kwargs == {"event_pk": pk}
            assert abs((eta - row.retry_at).total_seconds()) < 2
            assert abs((row.retry_at - timezone.now()).total_seconds() - wait) < 5
            assert f"stripe event {event['id']}: retry {attempts + 1} in {wait}s" in logged(caplog)
        # The seventh try would wait 640 s, longer than a task may wait in the queue: the row
        # keeps its retry time and the sweep hands it over then.
        StripeEvent.objects.filter(pk=pk).update(attempts=6, retry_at=None)
        assert webhooks.event_process(event_pk=pk) == "received"
        row = StripeEvent.objects.get(pk=pk)
        assert abs((row.retry_at - timezone.now()).total_seconds() - 640) < 5
        assert _published(app) == []
    assert Payment.objects.get().status == PaymentStatus.CREATED


# --- A payment moved to another invoice (_moved_from) ------------------------------------------


def test_a_moved_payments_events_may_name_the_invoice_it_left_and_no_other(
    customer, job, connected, hooks, stripe_client
):
    from crewcommand.lib.activity import Actor
    from documents.models import Invoice

    wrong, right, third, fourth = (InvoiceFactory(customer=customer, job=job) for _ in range(4))
    hooks.complete_session(start_checkout(wrong).payment.stripe_session_id)
    payment = Payment.objects.get()
    services.payment_move(payment=payment, to_invoice=right, actor=Actor.system())
    # Another payment left the third invoice: that says nothing about this one.
    cheque = services.payment_record(
        actor=Actor.system(),
        invoice=third,
        amount=Decimal("100.00"),
        method="cheque",
        received_on=timezone.localdate(),
    )
    services.payment_move(payment=cheque, to_invoice=fourth, actor=Actor.system())
    stripe_client.v1.refunds.create(
        {"payment_intent": payment.stripe_payment_intent_id, "amount": 35600},
        options={"stripe_account": connected.account_id},
    )
    charge = hooks.get(hooks.get(payment.stripe_payment_intent_id)["latest_charge"])
    assert charge["metadata"]["cc_invoice"] == wrong.public_id  # where the payment started

    elsewhere = {**charge, "metadata": {**charge["metadata"], "cc_invoice": third.public_id}}
    event = hooks.build_event("charge.refunded", elsewhere)
    assert _answer(hooks.send_event(event)) == (200, "rejected")
    assert StripeEvent.objects.get(event_id=event["id"]).last_error == "document differs"
    assert not Refund.objects.exists()

    assert _answer(hooks.send_event(hooks.build_event("charge.refunded", charge))) == (
        200,
        "applied",
    )
    assert Refund.objects.get().amount == Decimal("356.00")
    assert Invoice.objects.get(pk=right.pk).balance == Decimal("356.00")


def test_an_intent_event_without_our_metadata_is_found_by_its_intent_id_only(
    invoice, connected, hooks
):
    paid = start_checkout(invoice).payment
    hooks.complete_session(paid.stripe_session_id, send_webhook=False)
    services.payment_refresh(payment=Payment.objects.get(pk=paid.pk))
    paid = Payment.objects.get(pk=paid.pk)
    assert paid.status == PaymentStatus.SUCCEEDED and paid.stripe_payment_intent_id
    open_attempt = start_checkout(InvoiceFactory(customer=invoice.customer)).payment
    assert open_attempt.stripe_payment_intent_id is None
    intent = {**hooks.get(paid.stripe_payment_intent_id), "metadata": {}}
    event = hooks.build_event("payment_intent.succeeded", intent)
    assert _answer(hooks.send_event(event)) == (200, "applied")
    assert StripeEvent.objects.get(event_id=event["id"]).payment_id == paid.pk
    assert Payment.objects.get(pk=open_attempt.pk).status == PaymentStatus.CREATED


# --- What the worker writes on the row and in the log (event_receive, event_process, _process,
# _payment_for, _check): each outcome with its reason word for word, a row for each event kept
# with Stripe's own time, and the log line an operator searches for.


def _process(event: dict) -> tuple[str, StripeEvent]:
    """Store an event as the webhook does and run the worker's task on it (no HTTP)."""
    pk = store_event(event)
    assert pk is not None
    return webhooks.event_process(event_pk=pk), StripeEvent.objects.get(pk=pk)


def test_a_delivered_event_is_stored_with_its_type_account_and_stripes_time(
    invoice, connected, hooks
):
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    event = hooks.build_event("checkout.session.completed", session)
    event["created"] = 1_764_460_800  # 2025-11-30 00:00:00 UTC
    assert _answer(hooks.send_event(event)) == (200, "applied")
    row = StripeEvent.objects.get()
    assert (row.event_id, row.type, row.account) == (
        event["id"],
        "checkout.session.completed",
        connected.account_id,
    )
    assert row.stripe_created == dt.datetime(2025, 11, 30, tzinfo=dt.UTC)


def test_a_stored_body_that_is_not_a_stripe_event_is_retried_logged_and_then_skipped(db, caplog):
    broken = {
        "id": "evt_broken_body",
        "type": "checkout.session.completed",
        "account": "acct_123",
        "created": 1_764_460_800,
        "data": {},
    }
    with caplog.at_level(logging.WARNING, logger="billing.webhooks"):
        status, row = _process(broken)
    assert status == "received"
    assert (row.status, row.attempts) == ("received", 1)
    assert row.last_error == "BadWebhook: body is not a Stripe event"
    assert "stripe event evt_broken_body: processing failed" in logged(caplog)
    assert abs((row.retry_at - timezone.now()).total_seconds() - 10) < 5
    # Its retry time has not come: another worker's task leaves it alone.
    assert webhooks.event_process(event_pk=row.pk) == "skipped"
    assert StripeEvent.objects.get(pk=row.pk).attempts == 1


@pytest.mark.parametrize("object_id", ["ba_123", ""])
def test_an_account_event_about_no_connected_account_is_ignored_with_the_reason(db, object_id):
    event = {
        "id": f"evt_account_{object_id or 'none'}",
        "type": "account.updated",
        "account": "",
        "created": 1_764_460_800,
        "data": {"object": {"id": object_id, "object": "account", "charges_enabled": False}},
    }
    status, row = _process(event)
    assert status == "ignored"
    assert (row.status, row.last_error) == ("ignored", "not about a connected account")


def test_an_applied_account_event_has_no_error(connected, stripe_on):
    data = {**stripe_on.get(connected.account_id), "charges_enabled": False}
    status, row = _process(
        stripe_on.build_event("account.updated", data, account=connected.account_id)
    )
    assert status == "applied"
    assert (row.status, row.last_error) == ("applied", "")
    assert not StripeAccount.objects.get(pk=connected.pk).charges_enabled


def test_a_stored_event_of_a_type_the_worker_does_not_handle_is_ignored_with_the_reason(db):
    """The webhook does not store such types; a row stored before a type was dropped is
    still finished, not left waiting."""
    event = {
        "id": "evt_customer_created",
        "type": "customer.created",
        "account": "acct_123",
        "created": 1_764_460_800,
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    status, row = _process(event)
    assert status == "ignored"
    assert (row.status, row.last_error) == ("ignored", "event type not handled")


def test_an_event_about_nothing_of_ours_is_ignored_with_the_reason(invoice, connected, stripe_on):
    started = start_checkout(invoice)
    session = stripe_on.get(started.payment.stripe_session_id)
    event = stripe_on.build_event(
        "checkout.session.completed",
        {**session, "id": "cs_not_ours", "metadata": {}},
        account=connected.account_id,
    )
    status, row = _process(event)
    assert (status, row.last_error) == ("ignored", "about no payment of ours")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"cc_payment": "pay_no_such_attempt"}, "metadata names no attempt of ours"),
        ({"cc_estimate": "est_also_named"}, "names another document"),
        ({"cc_company": "co_someone_else"}, "company differs"),
    ],
)
def test_an_event_naming_what_we_did_not_record_is_rejected_and_logged_with_the_reason(
    invoice, connected, stripe_on, caplog, change, reason
):
    started = start_checkout(invoice)
    session = stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    forged = {**session, "metadata": {**session["metadata"], **change}}
    if change.get("cc_payment"):
        forged["id"] = "cs_not_ours"  # nor found by its session id
    event = stripe_on.build_event(
        "checkout.session.completed", forged, account=connected.account_id
    )
    with caplog.at_level(logging.WARNING, logger="billing.webhooks"):
        status, row = _process(event)
    assert (status, row.status, row.last_error) == ("rejected", "rejected", reason)
    assert f"stripe event {event['id']} rejected: {reason}" in logged(caplog)
    assert Payment.objects.get().status == PaymentStatus.CREATED


def test_a_session_stripe_no_longer_has_is_failed_and_logged_with_stripes_code(
    invoice, connected, stripe_on, caplog
):
    started = start_checkout(invoice)
    session = stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    Payment.objects.filter(pk=started.payment.pk).update(stripe_session_id="cs_gone")
    event = stripe_on.build_event(
        "checkout.session.completed", {**session, "id": "cs_gone"}, account=connected.account_id
    )
    with caplog.at_level(logging.WARNING, logger="billing.webhooks"):
        status, row = _process(event)
    assert (status, row.status) == ("failed", "failed")
    assert f"stripe event {event['id']}: state fetch failed (resource_missing)" in logged(caplog)


@pytest.mark.parametrize("metadata", ["absent", None, "not a mapping"])
def test_a_refund_event_whose_charge_has_no_metadata_mapping_is_found_by_its_intent(
    invoice, connected, stripe_on, stripe_client, metadata
):
    started = start_checkout(invoice)
    stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    services.payment_refresh(payment=Payment.objects.get())
    payment = Payment.objects.get()
    stripe_client.v1.refunds.create(
        {"payment_intent": payment.stripe_payment_intent_id, "amount": 12345},
        options={"stripe_account": connected.account_id},
    )
    charge = stripe_on.get(stripe_on.get(payment.stripe_payment_intent_id)["latest_charge"])
    if metadata == "absent":
        del charge["metadata"]
    else:
        charge["metadata"] = metadata
    status, row = _process(stripe_on.build_event("charge.refunded", charge))
    assert (status, row.payment_id) == ("applied", payment.pk)
    assert Refund.objects.get().amount == Decimal("123.45")


def test_a_session_event_is_matched_by_its_session_not_the_intent_its_snapshot_carries(
    invoice, connected, stripe_on
):
    """Stripe's event is a snapshot (one taken before the customer paid names no payment
    intent): the session id matches ours, and Stripe is asked for the session as it is now."""
    started = start_checkout(invoice)
    session = stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    services.payment_refresh(payment=Payment.objects.get())
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.stripe_payment_intent_id
    for intent in (None, "pi_an_older_snapshot"):
        event = stripe_on.build_event(
            "checkout.session.completed", {**session, "payment_intent": intent}
        )
        status, row = _process(event)
        assert (status, row.last_error, row.payment_id) == ("applied", "", payment.pk)
    assert Payment.objects.get().stripe_payment_intent_id == payment.stripe_payment_intent_id


def test_a_converted_deposits_refund_event_names_its_estimate_and_is_applied(
    signed_estimate, connected, stripe_on, stripe_client
):
    """A deposit paid by card is linked to the invoice its estimate became; Stripe's metadata
    still names the estimate (and no invoice), which is the deposit's own document."""
    from crewcommand.lib.activity import Actor

    started = start_checkout(signed_estimate)
    stripe_on.complete_session(started.payment.stripe_session_id, send_webhook=False)
    services.payment_refresh(payment=Payment.objects.get())
    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    payment = Payment.objects.get()
    assert (payment.purpose, payment.invoice_id) == ("deposit", invoice.pk)
    stripe_client.v1.refunds.create(
        {"payment_intent": payment.stripe_payment_intent_id, "amount": 10000},
        options={"stripe_account": connected.account_id},
    )
    charge = stripe_on.get(stripe_on.get(payment.stripe_payment_intent_id)["latest_charge"])
    assert charge["metadata"]["cc_estimate"] == signed_estimate.public_id
    assert "cc_invoice" not in charge["metadata"]
    status, row = _process(stripe_on.build_event("charge.refunded", charge))
    assert (status, row.last_error) == ("applied", "")
    assert Refund.objects.get().amount == Decimal("100.00")


def test_a_charge_event_naming_no_intent_for_an_attempt_without_ids_asks_stripe_nothing(
    invoice, connected, stripe_on
):
    """Our metadata finds the attempt, but neither its session id nor an intent id is known:
    there is nothing to ask Stripe for (an empty intent id would match any session)."""
    other = start_checkout(InvoiceFactory(customer=invoice.customer))
    stripe_on.complete_session(other.payment.stripe_session_id, send_webhook=False)
    paid = start_checkout(invoice).payment
    session = stripe_on.complete_session(paid.stripe_session_id, send_webhook=False)
    _unrecorded(paid)
    charge = stripe_on.get(stripe_on.get(session["payment_intent"])["latest_charge"])
    asked = len(stripe_on.requests_to("/v1/checkout/sessions", "GET"))
    event = stripe_on.build_event(
        "charge.refunded", {**charge, "payment_intent": None}, account=connected.account_id
    )
    status, row = _process(event)
    assert (status, row.last_error) == ("failed", "no session for this payment intent")
    assert len(stripe_on.requests_to("/v1/checkout/sessions", "GET")) == asked
    assert Payment.objects.get(pk=paid.pk).status == PaymentStatus.CREATED
    assert Payment.objects.get(pk=other.payment.pk).status == PaymentStatus.CREATED
