"""The customer's return from Stripe Checkout, and attempts that may have taken money but are
not confirmed yet.

When the webhook is lost, the return page is the first to know that a customer paid: Stripe
sends the browser to ``success_url`` only after the session completed. So the page asks Stripe
about the attempt (at most once per attempt per ``BILLING_RETURN_CHECK_SECONDS``, however often
it is loaded or polled) and applies the answer through ``stripe_state_apply``, the webhook's own
path. If Stripe cannot answer, the attempt is marked *returned*: the portal then says the
payment is being confirmed and asks before charging again, and reconciliation looks at it
within a minute.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from billing import stripe_client
from billing.models import OPEN_PAYMENT_STATUSES, Payment, PaymentStatus
from billing.services.stripe_state import payment_refresh

logger = logging.getLogger(__name__)

UNKNOWN = ""


def _check_key(payment: Payment) -> str:
    return f"billing:return-check:{payment.public_id}"


def attempt_return(*, payment: Payment) -> str:
    """The customer is on the attempt's return page (its session id already checked). Asks
    Stripe about the session unless someone asked within the throttle window, applies what
    Stripe says, and marks the attempt returned unless Stripe says it is still open.

    Returns the session status last seen at Stripe ("open", "complete", "expired") or ""
    when unknown (Stripe did not answer, or the attempt needs no asking)."""
    seen = _session_status(payment)
    if seen != "open":
        _mark_returned(payment)
    return seen


def _session_status(payment: Payment) -> str:
    if payment.status not in OPEN_PAYMENT_STATUSES or not payment.stripe_session_id:
        return UNKNOWN
    key = _check_key(payment)
    window = settings.BILLING_RETURN_CHECK_SECONDS
    seen = cache.get(key)
    if seen is not None:
        return seen
    # add() is atomic (SET NX on Redis): of many concurrent loads, one asks Stripe.
    if not stripe_client.is_enabled() or not cache.add(key, UNKNOWN, timeout=window):
        return UNKNOWN
    try:
        session = payment_refresh(payment=payment, interactive=True)
    except stripe_client.StripeFailure as error:
        logger.warning(
            "return check of payment %s failed: %s", payment.public_id, error.code or "transient"
        )
        return UNKNOWN
    seen = str(session.get("status") or UNKNOWN)
    cache.set(key, seen, timeout=window)
    return seen


def _mark_returned(payment: Payment) -> None:
    """Idempotent and conditional: only an attempt still waiting, the first time."""
    now = timezone.now()
    Payment.objects.filter(pk=payment.pk, status=PaymentStatus.CREATED, returned_at=None).update(
        returned_at=now, updated_at=now
    )
