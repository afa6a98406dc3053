"""Billing background tasks. Thin: take ids, load, call one function."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from billing import notifications, reconcile, services, webhooks
from billing.models import Payment
from crewcommand.errors import ServiceError

logger = logging.getLogger(__name__)


@shared_task
def process_stripe_event(*, event_pk: int) -> str:
    """A stored Stripe event, claimed and processed (retries itself with backoff)."""
    return webhooks.event_process(event_pk=event_pk)


@shared_task
def requeue_stripe_events() -> int:
    """Stored Stripe events whose task was lost (beat)."""
    return webhooks.events_requeue()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_payment_receipt(*, payment_id: int) -> None:
    notifications.deliver_receipt(payment_id=payment_id)


@shared_task
def send_missing_receipts() -> int:
    """Receipts of applied payments whose after-commit task never ran (beat)."""
    return notifications.receipts_missing()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_payment_failed_notice(*, payment_id: int) -> None:
    notifications.deliver_payment_failed(payment_id=payment_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_refund_notice(*, refund_id: int) -> None:
    notifications.deliver_refund_notice(refund_id=refund_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def refund_duplicate_payment(*, payment_id: int) -> None:
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        return
    try:
        services.duplicate_refund(payment=payment)
    except ServiceError as error:
        # Stays flagged on the dashboard; reconciliation retries a refund left pending.
        logger.warning("automatic refund of payment %s failed: %s", payment.public_id, error)


@shared_task
def reconcile_payments() -> dict[str, int]:
    report = reconcile.reconcile(older_than_minutes=settings.BILLING_RECONCILE_AFTER_MINUTES)
    return report.as_dict()


@shared_task
def reconcile_returned_payments() -> dict[str, int]:
    return reconcile.reconcile_returned().as_dict()


@shared_task
def autopay_due_invoices() -> int:
    """Charge sent invoices due today (or earlier) to their customers' saved cards, where the
    company turned autopay on. Idempotent per invoice and amount."""
    from billing.services import autopay

    return autopay.autopay_due()


# QuickBooks tasks live in their own module; importing it here lets the worker find them.
from billing.quickbooks import tasks as quickbooks_tasks  # noqa: E402, F401
