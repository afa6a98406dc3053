"""Stripe webhooks against a live server: signed by the real scheme, sent by the fake Stripe
server, processed by the real app on PostgreSQL. Concurrency is real (threads, separate
connections), so these tests are what shows "exactly once" holds.

The webhook verifies, stores and queues (answering 200); the processing task runs after
commit. Tests run tasks inline (``CELERY_TASK_ALWAYS_EAGER``) and the live server commits each
request, so the task has run by the time the answer arrives and the tests read its outcome on
the stored row. ``test_webhook_queue.py`` runs the same path through a real worker."""

from __future__ import annotations

import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.core import mail

from billing.models import (
    EventStatus,
    IssueKind,
    Payment,
    PaymentIssue,
    PaymentStatus,
    Refund,
    RefundStatus,
    StripeAccount,
    StripeEvent,
)
from crewcommand.models import Activity
from documents.models import Invoice, InvoiceStatus
from tests.billing.conftest import start_checkout
from tests.factories import CompanyFactory, CustomerFactory, InvoiceFactory
from tests.fakes.stripe_server import DEFAULT_WEBHOOK_SECRET

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _counts() -> dict[str, int]:
    return {
        "events": StripeEvent.objects.count(),
        "payments": Payment.objects.count(),
        "refunds": Refund.objects.count(),
        "issues": PaymentIssue.objects.count(),
        "activity": Activity.objects.count(),
        "paid": Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count(),
        "mail": len(mail.outbox),
    }


def _changes() -> dict[str, int]:
    """Everything an event can change, but the stored events themselves."""
    counts = _counts()
    del counts["events"]
    return counts


def _outcomes() -> list[tuple[str, str]]:
    return list(StripeEvent.objects.order_by("id").values_list("status", "last_error"))


def _send_all(fake, events, workers=8):
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fake.send_event, events))


def _receipts_to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address] and "Receipt" in m.subject]


# --- The happy path ----------------------------------------------------------------------------


def test_completed_checkout_records_the_payment_marks_the_invoice_paid_and_sends_receipts(
    invoice, connected, hooks
):
    started = start_checkout(invoice)
    hooks.complete_session(started.payment.stripe_session_id)

    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.applied
    assert (
        payment.stripe_payment_intent_id == hooks.get(payment.stripe_session_id)["payment_intent"]
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.amount_paid == Decimal("1356.00") and invoice.balance == 0
    [receipt] = _receipts_to(invoice.customer.email)
    assert "$1,356.00" in receipt.body and "paid in full" in receipt.body
    assert receipt.alternatives and "$1,356.00" in receipt.alternatives[0][0]
    assert any(m.to == [invoice.company.email] for m in mail.outbox)
    assert payment.receipt_sent_at is not None
    assert Activity.objects.filter(verb="payment.received").count() == 1
    assert StripeEvent.objects.get().payment == payment
    assert hooks.deliveries[-1].status == 200


def test_the_same_event_delivered_five_times_concurrently_records_one_payment_and_one_receipt(
    invoice, connected, hooks
):
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    event = hooks.build_event("checkout.session.completed", session)

    deliveries = _send_all(hooks, [event] * 5, workers=5)

    assert [d.status for d in deliveries] == [200] * 5
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 1
    assert len(_receipts_to(invoice.customer.email)) == 1
    assert StripeEvent.objects.count() == 1
    assert sorted(d.body.decode() for d in deliveries) == ["duplicate"] * 4 + ["queued"]
    assert StripeEvent.objects.get().status == EventStatus.APPLIED


def test_completed_intent_and_charge_events_in_every_order_record_one_payment(
    customer, connected, hooks
):
    for order in itertools.permutations(range(3)):
        invoice = InvoiceFactory(customer=customer)
        started = start_checkout(invoice)
        session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
        intent = hooks.get(session["payment_intent"])
        charge = hooks.get(intent["latest_charge"])
        events = [
            hooks.build_event("checkout.session.completed", session),
            hooks.build_event("payment_intent.succeeded", intent),
            hooks.build_event("charge.succeeded", charge),
        ]
        deliveries = _send_all(hooks, [events[i] for i in order], workers=3)
        assert all(d.status == 200 for d in deliveries), order
        payments = Payment.objects.filter(invoice=invoice, status=PaymentStatus.SUCCEEDED)
        assert payments.count() == 1, order
        invoice.refresh_from_db()
        assert invoice.amount_paid == invoice.total, order
    assert len([m for m in mail.outbox if "Receipt" in m.subject]) == 6


def test_events_arriving_out_of_order_end_in_stripes_current_state(customer, connected, hooks):
    """The first card was declined, the second went through; the completed event is late.
    A stale event arrives first, carrying a snapshot that no longer holds (the declined
    intent; the open session, marked expired). Stripe's current state is what gets applied,
    never the payload: had the payload been applied the attempt would read failed or
    cancelled, with the decline message."""
    stale_kinds = ("payment_intent.payment_failed", "checkout.session.expired")
    for kind in stale_kinds:
        invoice = InvoiceFactory(customer=customer)
        session_id = start_checkout(invoice).payment.stripe_session_id
        open_session = hooks.get(session_id)
        declined = hooks.fail_session_payment(session_id, send_webhook=False)
        done = hooks.complete_session(session_id, send_webhook=False)
        snapshot = declined if kind.startswith("payment_intent") else {**open_session}
        if kind == "checkout.session.expired":
            snapshot["status"] = "expired"

        assert hooks.send_event(hooks.build_event(kind, snapshot)).status == 200
        payment = Payment.objects.get(invoice=invoice)
        assert payment.status == PaymentStatus.SUCCEEDED and payment.applied, kind
        assert payment.failure_message == ""
        assert payment.stripe_payment_intent_id == done["payment_intent"] != declined["id"]

        hooks.send_event(hooks.build_event("checkout.session.completed", done))
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID and invoice.amount_paid == invoice.total
    assert Activity.objects.filter(verb="payment.received").count() == len(stale_kinds)
    assert not Activity.objects.filter(verb="payment.failed").exists()
    assert len(_receipts_to(customer.email)) == len(stale_kinds)
    assert StripeEvent.objects.count() == 2 * len(stale_kinds)


# --- Money that does not fit -------------------------------------------------------------------


def test_two_open_sessions_paid_for_one_invoice_flags_the_second_and_never_overpays(
    invoice, connected, hooks
):
    first, second = start_checkout(invoice), start_checkout(invoice)
    hooks.complete_session(first.payment.stripe_session_id)
    hooks.complete_session(second.payment.stripe_session_id)

    invoice.refresh_from_db()
    assert invoice.amount_paid == invoice.total and invoice.status == InvoiceStatus.PAID
    flagged = Payment.objects.get(pk=second.payment.pk)
    assert flagged.status == PaymentStatus.SUCCEEDED and not flagged.applied
    issue = PaymentIssue.objects.get()
    assert issue.payment == flagged and issue.kind == IssueKind.OVERPAID and not issue.resolved_at
    assert len(_receipts_to(invoice.customer.email)) == 1
    assert not hooks.requests_to("/v1/refunds")


def test_a_duplicate_payment_is_refunded_through_stripe_when_the_company_opted_in(
    invoice, connected, hooks
):
    StripeAccount.objects.filter(pk=connected.pk).update(refund_duplicate_payments=True)
    first, second = start_checkout(invoice), start_checkout(invoice)
    hooks.complete_session(first.payment.stripe_session_id)
    hooks.complete_session(second.payment.stripe_session_id)

    flagged = Payment.objects.get(pk=second.payment.pk)
    refund = Refund.objects.get()
    assert refund.payment == flagged and refund.status == RefundStatus.SUCCEEDED
    assert refund.amount == flagged.amount and refund.automatic
    assert flagged.amount_refunded == flagged.amount
    charge = hooks.get(hooks.get(flagged.stripe_payment_intent_id)["latest_charge"])
    assert charge["refunded"] is True
    assert PaymentIssue.objects.get().resolved_at is not None
    invoice.refresh_from_db()
    assert invoice.amount_paid == invoice.total and invoice.status == InvoiceStatus.PAID


def test_payment_for_a_void_invoice_is_flagged_not_applied(invoice, connected, hooks):
    started = start_checkout(invoice)
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.VOID)
    hooks.complete_session(started.payment.stripe_session_id)
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED and not payment.applied
    assert PaymentIssue.objects.get().kind == IssueKind.DOCUMENT_VOID
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == 0


def test_an_amount_that_differs_from_the_attempt_is_flagged(invoice, connected, hooks):
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    with hooks.lock:
        hooks.objects[session["id"]]["amount_total"] = 100
    hooks.send_event(hooks.build_event("checkout.session.completed", hooks.get(session["id"])))
    payment = Payment.objects.get()
    assert not payment.applied and payment.amount == Decimal("1.00")
    issue = PaymentIssue.objects.get()
    assert issue.kind == IssueKind.AMOUNT_MISMATCH and issue.details["expected"] == 135600
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == 0


# --- Refused events: 400 and nothing written; contradictions: stored as rejected ---------------


def test_bad_signature_stale_timestamp_and_non_json_bodies_get_400_and_write_nothing(
    invoice, connected, hooks, live_server
):
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    event = hooks.build_event("checkout.session.completed", session)
    before = _counts()
    url = hooks.webhook_url

    bad_secret = hooks.send_event(event, secret="whsec_wrong")
    stale = hooks.send_event(event, timestamp=int(time.time()) - 301)
    future = hooks.send_event(event, timestamp=int(time.time()) + 3600)
    body = b"this is not json"
    not_json = requests.post(
        url, data=body, headers={"Stripe-Signature": hooks.sign(body, DEFAULT_WEBHOOK_SECRET)}
    )
    unsigned = requests.post(url, data=json.dumps(event))
    not_utf8 = b"\xff\xfe{}"
    garbage = requests.post(url, data=not_utf8, headers={"Stripe-Signature": "t=1,v1=" + "0" * 64})

    assert [bad_secret.status, stale.status, future.status] == [400, 400, 400]
    assert [not_json.status_code, unsigned.status_code, garbage.status_code] == [400, 400, 400]
    assert _counts() == before
    assert Payment.objects.get().status == PaymentStatus.CREATED


def test_an_event_pointing_at_another_companys_invoice_is_rejected_with_no_writes(
    invoice, connected, hooks
):
    rival = CompanyFactory(name="Rival", slug="rival-co")
    rival_invoice = InvoiceFactory(customer=CustomerFactory(company=rival))
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    before = _changes()

    forged = dict(session, metadata={**session["metadata"], "cc_invoice": rival_invoice.public_id})
    other_company = dict(session, metadata={**session["metadata"], "cc_company": rival.public_id})
    answers = [
        hooks.send_event(hooks.build_event("checkout.session.completed", forged)),
        hooks.send_event(hooks.build_event("checkout.session.completed", other_company)),
    ]
    assert [a.status for a in answers] == [200, 200]
    assert _changes() == before
    assert _outcomes() == [("rejected", "document differs"), ("rejected", "company differs")]


def test_an_event_from_a_different_connected_account_is_rejected_with_no_writes(
    invoice, connected, hooks
):
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    intruder = hooks.add_account()["id"]
    before = _changes()

    answer = hooks.send_event(
        hooks.build_event("checkout.session.completed", session, account=intruder)
    )
    platform = hooks.build_event("checkout.session.completed", session)
    platform.pop("account")
    answer_platform = hooks.send_event(platform)

    assert (answer.status, answer_platform.status) == (200, 200)
    assert _changes() == before
    assert _outcomes() == [("rejected", "connected account differs")] * 2
    assert not StripeEvent.objects.exclude(payment=None).exists()


def test_a_session_made_on_another_account_naming_our_attempt_is_rejected(
    invoice, connected, hooks, stripe_client
):
    """A rival connected account makes its own session whose metadata copies ours."""
    started = start_checkout(invoice)
    ours = hooks.get(started.payment.stripe_session_id)
    intruder = hooks.add_account()["id"]
    theirs = stripe_client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "cad",
                        "unit_amount": 135600,
                        "product_data": {"name": "x"},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": "https://example.com/",
            "metadata": ours["metadata"],
        },
        options={"stripe_account": intruder},
    )
    before = _changes()
    hooks.complete_session(theirs.id)
    assert hooks.deliveries[-1].status == 200
    assert _changes() == before
    assert _outcomes() == [("rejected", "connected account differs")]


def test_events_naming_our_attempt_with_another_session_or_intent_on_its_account_are_rejected(
    invoice, connected, hooks, stripe_client
):
    """On the company's own account, a second session (made in its dashboard, or by a script
    with its key) copies our attempt's metadata and is paid. Its events name our attempt but
    carry another session id and another PaymentIntent id than the ones recorded: refused, and
    nothing is written but the event rows, marked rejected with the reason."""
    started = start_checkout(invoice)
    hooks.complete_session(started.payment.stripe_session_id)
    payment = Payment.objects.get()
    assert payment.stripe_session_id and payment.stripe_payment_intent_id
    ours = hooks.get(payment.stripe_session_id)["metadata"]
    theirs = stripe_client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "cad",
                        "unit_amount": 135600,
                        "product_data": {"name": "x"},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": "https://example.com/",
            "metadata": ours,
            "payment_intent_data": {"metadata": ours},
        },
        options={"stripe_account": connected.account_id},
    )
    session = hooks.complete_session(theirs.id, send_webhook=False)
    intent = hooks.get(session["payment_intent"])
    assert intent["metadata"] == ours and intent["id"] != payment.stripe_payment_intent_id
    before = _changes()
    applied = StripeEvent.objects.count()

    answers = [
        hooks.send_event(hooks.build_event("checkout.session.completed", session)),
        hooks.send_event(hooks.build_event("payment_intent.succeeded", intent)),
    ]

    assert [a.status for a in answers] == [200, 200]
    assert _changes() == before
    assert _outcomes()[applied:] == [
        ("rejected", "session differs"),
        ("rejected", "payment intent differs"),
    ]
    assert Payment.objects.get().stripe_payment_intent_id == payment.stripe_payment_intent_id


def test_unknown_event_types_get_200_and_are_ignored(invoice, connected, hooks):
    """A type we never act on is not even stored; a payment event about nothing of ours is
    stored (finding that out takes the worker's lookups) and marked ignored."""
    started = start_checkout(invoice)
    session = hooks.get(started.payment.stripe_session_id)
    before = _changes()
    answer = hooks.send_event(
        hooks.build_event("customer.created", {"id": "cus_1", "object": "customer"})
    )
    foreign = hooks.send_event(
        hooks.build_event(
            "checkout.session.completed", {**session, "id": "cs_other", "metadata": {}}
        )
    )
    assert (answer.status, foreign.status) == (200, 200)
    assert (answer.body, foreign.body) == (b"ignored", b"queued")
    assert _changes() == before
    assert _outcomes() == [("ignored", "about no payment of ours")]


# --- Other outcomes ------------------------------------------------------------------------------


def test_an_expired_session_cancels_the_attempt(invoice, connected, hooks):
    started = start_checkout(invoice)
    hooks.expire_session(started.payment.stripe_session_id)
    assert Payment.objects.get().status == PaymentStatus.CANCELLED
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.SENT


def test_a_declined_card_keeps_the_attempt_open_with_the_reason(invoice, connected, hooks):
    started = start_checkout(invoice)
    hooks.fail_session_payment(started.payment.stripe_session_id)
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.CREATED
    assert payment.failure_message == "Your card was declined."
    hooks.complete_session(started.payment.stripe_session_id)
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED


def test_async_payments_go_processing_then_succeeded_or_failed(customer, connected, hooks):
    good, bad = InvoiceFactory(customer=customer), InvoiceFactory(customer=customer)
    for invoice in (good, bad):
        started = start_checkout(invoice)
        hooks.complete_session(started.payment.stripe_session_id, async_payment=True)
        assert Payment.objects.get(invoice=invoice).status == PaymentStatus.PROCESSING
        assert Invoice.objects.get(pk=invoice.pk).amount_paid == 0
    hooks.settle_async_payment(Payment.objects.get(invoice=good).stripe_session_id)
    hooks.settle_async_payment(Payment.objects.get(invoice=bad).stripe_session_id, succeeded=False)
    assert Payment.objects.get(invoice=good).status == PaymentStatus.SUCCEEDED
    assert Invoice.objects.get(pk=good.pk).status == InvoiceStatus.PAID
    assert Payment.objects.get(invoice=bad).status == PaymentStatus.FAILED
    assert Invoice.objects.get(pk=bad.pk).status == InvoiceStatus.SENT


def test_a_refund_made_in_stripe_is_recorded_from_charge_refunded(
    invoice, connected, hooks, stripe_client
):
    started = start_checkout(invoice)
    hooks.complete_session(started.payment.stripe_session_id)
    payment = Payment.objects.get()
    stripe_client.v1.refunds.create(
        {"payment_intent": payment.stripe_payment_intent_id, "amount": 35600},
        options={"stripe_account": connected.account_id},
    )
    charge = hooks.get(hooks.get(payment.stripe_payment_intent_id)["latest_charge"])
    event = hooks.build_event("charge.refunded", charge)
    assert [d.status for d in _send_all(hooks, [event] * 3)] == [200, 200, 200]

    refund = Refund.objects.get()
    assert refund.amount == Decimal("356.00") and refund.status == RefundStatus.SUCCEEDED
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("1000.00")
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID and invoice.balance == Decimal("356.00")
