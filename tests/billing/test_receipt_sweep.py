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
