"""A webhook queues its receipt after commit; if that task is lost, the beat sweep sends it,
exactly once, and leaves recent payments (their task may still be on its way) alone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import notifications
from billing.models import Payment
from crewcommand.models import Message
from tests.billing.conftest import store_event
from tests.factories import InvoiceFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def _receipts(payment: Payment) -> list[str]:
    return sorted(
        Message.objects.filter(template__in=["receipt", "receipt_company"]).values_list(
            "template", flat=True
        )
    )


@pytest.fixture
def paid(customer):
    """A payment whose receipts were never sent (its after-commit task lost)."""
    invoice = InvoiceFactory(customer=customer)
    payment = PaymentFactory(invoice=invoice, amount=Decimal("50.00"))
    Message.objects.all().delete()
    Payment.objects.filter(pk=payment.pk).update(
        receipt_sent_at=None,
        company_notified_at=None,
        succeeded_at=timezone.now() - dt.timedelta(minutes=5),
    )
    return payment


def test_the_sweep_sends_a_lost_receipt_once(paid):
    assert notifications.receipts_missing() == 1
    assert _receipts(paid) == ["receipt", "receipt_company"]
    paid.refresh_from_db()
    assert paid.receipt_sent_at is not None and paid.company_notified_at is not None
    assert notifications.receipts_missing() == 0
    assert _receipts(paid) == ["receipt", "receipt_company"]


def test_the_sweep_leaves_a_payment_just_applied_to_its_own_task(paid):
    Payment.objects.filter(pk=paid.pk).update(succeeded_at=timezone.now())
    assert notifications.receipts_missing() == 0
    assert _receipts(paid) == []


def test_a_webhook_writes_its_receipt_after_commit_not_inside_the_transaction(
    invoice, connected, stripe_on, django_capture_on_commit_callbacks
):
    """The webhook's transaction records the payment; the receipt (consent, rendered emails,
    outbox rows) comes from a task queued on commit, and running it again sends nothing more."""
    from billing import services, stripe_client
    from billing.tasks import send_payment_receipt
    from tests.billing.conftest import start_checkout

    payment = start_checkout(invoice).payment
    stripe_on.complete_session(payment.stripe_session_id, send_webhook=False)
    event = stripe_on.events[-1]
    session = stripe_client.checkout_session_retrieve(
        account=connected.account_id, session_id=payment.stripe_session_id
    )
    Message.objects.all().delete()
    stored = store_event(event)
    claimed = services.event_claim(event_pk=stored)
    assert claimed is not None
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.stripe_state_apply(payment_id=payment.pk, session=session, event=claimed[0])
    payment.refresh_from_db()
    assert payment.applied and payment.receipt_sent_at is None
    assert _receipts(payment) == []  # nothing rendered or queued inside the transaction
    for callback in callbacks:
        callback()
    assert _receipts(payment) == ["receipt", "receipt_company"]
    send_payment_receipt(payment_id=payment.pk)
    assert _receipts(payment) == ["receipt", "receipt_company"]
