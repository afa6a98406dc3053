"""Reconciliation: the safety net for lost webhooks.

Card attempts still open after N minutes are looked up in Stripe and whatever Stripe says is
applied through ``billing.services.stripe_state_apply`` (the webhook's own path), so a payment
whose webhook never arrived is recorded, and a mismatch is flagged, never silently applied.
Refunds left pending because Stripe did not answer are asked for again with their original
idempotency key, which makes Stripe return the refund it made, or make it exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass

from django.utils import timezone

from billing import services
from billing.models import (
    OPEN_PAYMENT_STATUSES,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from billing.stripe_client import StripeFailure, is_enabled

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass
class Report:
    checked: int = 0
    changed: int = 0
    abandoned: int = 0
    errors: int = 0
    refunds_checked: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def reconcile(*, older_than_minutes: int) -> Report:
    report = Report()
    if not is_enabled():
        return report
    cutoff = timezone.now() - dt.timedelta(minutes=older_than_minutes)
    attempts = (
        Payment.objects.filter(
            method=PaymentMethod.CARD, status__in=OPEN_PAYMENT_STATUSES, created_at__lt=cutoff
        )
        .select_related("company")
        .order_by("created_at")[:BATCH]
    )
    for payment in attempts:
        _attempt(payment, report)
    pending = (
        Refund.objects.filter(status=RefundStatus.PENDING, created_at__lt=cutoff)
        .select_related("payment")
        .order_by("created_at")[:BATCH]
    )
    for refund in pending:
        report.refunds_checked += 1
        services.refund_retry(refund=refund)
    logger.info("reconcile: %s", report.as_dict())
    return report


# A returned attempt's session is complete or expired at Stripe by the time its checkout window
# has passed; past a day, the ordinary sweep is enough.
RETURNED_LOOKBACK = dt.timedelta(days=1)


def reconcile_returned() -> Report:
    """The frequent, light sweep: attempts whose customer came back from Stripe's success page
    but that are not confirmed yet (a lost webhook, and Stripe did not answer the return page).
    One indexed query when there are none."""
    report = Report()
    if not is_enabled():
        return report
    attempts = (
        Payment.objects.filter(
            method=PaymentMethod.CARD,
            status=PaymentStatus.CREATED,
            returned_at__isnull=False,
            returned_at__gte=timezone.now() - RETURNED_LOOKBACK,
        )
        .select_related("company")
        .order_by("returned_at")[:BATCH]
    )
    for payment in attempts:
        _attempt(payment, report)
    if report.checked:
        logger.info("reconcile returned: %s", report.as_dict())
    return report


def _attempt(payment: Payment, report: Report) -> None:
    report.checked += 1
    before = payment.status
    if payment.stripe_session_id is None:
        services.attempt_abandon(payment=payment)
        report.abandoned += 1
        return
    try:
        services.payment_refresh(payment=payment)
    except StripeFailure as error:
        report.errors += 1
        logger.warning("reconcile payment %s: %s", payment.public_id, error.code or "transient")
        return
    if Payment.objects.filter(pk=payment.pk).values_list("status", flat=True).get() != before:
        report.changed += 1
