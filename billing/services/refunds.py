"""Refunds: through Stripe for card payments, recorded directly otherwise. (The claims that
make each receipt and refund notice go out exactly once are in ``billing.notifications``.)"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, cast

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import stripe_client
from billing.models import (
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundKind,
    RefundStatus,
    StripeAccount,
)
from billing.services.ledger import (
    enqueue_refund_notice,
    lock_payment,
    log_payment,
    recompute_refunds,
)
from billing.services.metadata import META_PAYMENT, META_REFUND
from billing.services.stripe_state import REFUND_STATUS, refund_settle
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import ZERO, format_cad, quantize_money, to_cents

logger = logging.getLogger(__name__)


def refund_create(
    *,
    payment: Payment,
    amount: Decimal,
    actor: Actor,
    kind: str = RefundKind.REVERSAL,
    reason: str = "",
    automatic: bool = False,
    public_id: str | None = None,
) -> Refund:
    """Give money back on a payment: through Stripe for card payments (the refund row is
    pending until Stripe answers), recorded directly for money received by hand.

    ``kind`` says what it does to the balance (``RefundKind``): a reversal puts the amount back
    on the balance, a goodwill refund leaves the balance (and a paid invoice) as it was.
    ``public_id`` makes a confirmed request idempotent: the confirmation page carries one, and
    posting it twice returns the refund made the first time. The customer gets a notice once
    the refund goes through.

    Raises ServiceError when the amount is more than what is left to refund, or Stripe refuses."""
    refund = _refund_begin(
        payment=payment,
        amount=amount,
        actor=actor,
        kind=kind,
        reason=reason,
        automatic=automatic,
        public_id=public_id,
    )
    if refund.status != RefundStatus.PENDING or refund.stripe_refund_id:
        return refund
    refund, failure = _refund_at_stripe(refund)
    if failure is None:
        return refund
    if not failure.permanent:
        raise ServiceError(
            _("Stripe did not answer. The refund will be checked again in a few minutes.")
        ) from failure
    raise ServiceError(
        _("Stripe refused the refund: %(reason)s") % {"reason": str(failure)[:200]}
    ) from failure


def refund_metadata(refund: Refund) -> dict[str, str]:
    return {META_REFUND: refund.public_id, META_PAYMENT: refund.payment.public_id}


def refund_idempotency_key(refund: Refund) -> str:
    return f"cc-refund-{refund.public_id}-{to_cents(refund.amount)}"


def _refund_begin(
    *,
    payment: Payment,
    amount: Decimal,
    actor: Actor,
    kind: str,
    reason: str,
    automatic: bool,
    public_id: str | None,
) -> Refund:
    with transaction.atomic():
        locked, payment = lock_payment(payment.pk)
        if public_id:
            made = Refund.objects.filter(payment=payment, public_id=public_id).first()
            if made is not None:
                return made  # the same confirmation posted again
        if kind not in RefundKind.values:
            raise ServiceError(_("Choose what the refund does to the balance."))
        amount = quantize_money(amount)
        if payment.status != PaymentStatus.SUCCEEDED:
            raise ServiceError(_("Only a payment that went through can be refunded."))
        if amount <= 0:
            raise ServiceError(_("Enter an amount greater than zero."))
        pending = payment.refunds.filter(status=RefundStatus.PENDING).aggregate(s=Sum("amount"))[
            "s"
        ]
        left = payment.amount - payment.amount_refunded - (pending or ZERO)
        if amount > left:
            raise ServiceError(
                _("You can refund at most %(left)s on this payment.") % {"left": format_cad(left)}
            )
        is_card = payment.method == PaymentMethod.CARD
        if is_card and not (payment.stripe_payment_intent_id and stripe_client.is_enabled()):
            raise ServiceError(_("This card payment can't be refunded from here; use Stripe."))
        now = timezone.now()
        refund = Refund(
            company=payment.company,
            payment=payment,
            amount=amount,
            kind=kind,
            status=RefundStatus.PENDING if is_card else RefundStatus.SUCCEEDED,
            reason=reason.strip()[:200],
            automatic=automatic,
            created_by=actor.user,
            succeeded_at=None if is_card else now,
        )
        if public_id:
            refund.public_id = public_id
        refund.save()
        if not is_card:
            recompute_refunds(payment, locked)
            log_payment(payment, "refund.created", actor, amount=format_cad(amount))
            enqueue_refund_notice(refund)
        return refund


def _refund_finish(
    *, refund_id: int, stripe_id: str | None, status: str, data: dict[str, Any]
) -> Refund:
    with transaction.atomic():
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        locked, payment = lock_payment(payment_id)
        refund = Refund.objects.get(pk=refund_id)  # under its payment's document lock
        if (
            stripe_id
            and Refund.objects.filter(stripe_refund_id=stripe_id).exclude(pk=refund.pk).exists()
        ):
            stripe_id = None  # already recorded from a webhook under another row: keep one
        refund_settle(
            payment,
            refund,
            stripe_id=cast(str, stripe_id or refund.stripe_refund_id),
            status=status,
            data=data,
        )
        recompute_refunds(payment, locked)
        return refund


def refund_retry(*, refund: Refund) -> Refund:
    """Ask Stripe again for a refund left pending (Stripe did not answer). The same
    idempotency key and parameters make Stripe return the refund it made, or make it once."""
    refund, _failure = _refund_at_stripe(refund)
    return refund


def _refund_at_stripe(refund: Refund) -> tuple[Refund, stripe_client.StripeFailure | None]:
    """The one Stripe refund call: ask Stripe for a pending refund and record its answer, with
    no row lock held. Asking again is safe: the same idempotency key and parameters make Stripe
    return the refund it made. A permanent refusal records the refund as failed; when Stripe does
    not answer the refund stays pending. Returns the refund and Stripe's failure, if any."""
    payment = refund.payment
    try:
        data = stripe_client.refund_create(
            account=payment.stripe_account_id,
            payment_intent=cast(str, payment.stripe_payment_intent_id),
            amount_cents=to_cents(refund.amount),
            metadata=refund_metadata(refund),
            idempotency_key=refund_idempotency_key(refund),
            reason="duplicate" if refund.automatic else "requested_by_customer",
        )
    except stripe_client.StripeFailure as error:
        if error.permanent:
            refund = _refund_finish(
                refund_id=refund.pk,
                stripe_id=None,
                status=RefundStatus.FAILED,
                data={"failure_reason": str(error)},
            )
        return refund, error
    status = REFUND_STATUS.get(str(data.get("status")), RefundStatus.PENDING)
    return _refund_finish(refund_id=refund.pk, stripe_id=data["id"], status=status, data=data), None


AUTO_REFUND_REASON = "Duplicate payment, refunded automatically"


def duplicate_refund(*, payment: Payment) -> Refund | None:
    """Refund a flagged overpayment in full, when the company opted in. Idempotent."""
    payment = Payment.objects.select_related("company").get(pk=payment.pk)
    account = StripeAccount.objects.filter(company_id=payment.company_id).first()
    if not (account and account.refund_duplicate_payments):
        return None
    if payment.applied or payment.status != PaymentStatus.SUCCEEDED:
        return None
    if payment.refunds.exclude(status=RefundStatus.FAILED).exists():
        return None
    return refund_create(
        payment=payment,
        amount=payment.amount,
        actor=Actor.system(),
        reason=AUTO_REFUND_REASON,
        automatic=True,
    )
