"""Refunds: through Stripe for card payments, recorded directly otherwise; and the
receipt claims that make each receipt go out exactly once."""

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
    ZERO,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundKind,
    RefundStatus,
    StripeAccount,
)
from billing.services.common import (
    META_PAYMENT,
    META_REFUND,
    _after_refund,
    _lock_payment,
    _log,
    _recompute,
    _recompute_payment_refunds,
)
from billing.services.stripe_state import _REFUND_STATUS, _refund_settle, _resolve_if_refunded
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import format_cad, quantize_money, to_cents
from crewcommand.services import ServiceError

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
        if not error.permanent:
            raise ServiceError(
                _("Stripe did not answer. The refund will be checked again in a few minutes.")
            ) from error
        _refund_finish(
            refund_id=refund.pk,
            stripe_id=None,
            status=RefundStatus.FAILED,
            data={"failure_reason": str(error)},
        )
        raise ServiceError(
            _("Stripe refused the refund: %(reason)s") % {"reason": str(error)[:200]}
        ) from error
    status = _REFUND_STATUS.get(str(data.get("status")), RefundStatus.PENDING)
    return _refund_finish(refund_id=refund.pk, stripe_id=data["id"], status=status, data=data)


def refund_metadata(refund: Refund) -> dict[str, str]:
    return {META_REFUND: refund.public_id, META_PAYMENT: refund.payment.public_id}


def refund_idempotency_key(refund: Refund) -> str:
    return f"cc-refund-{refund.public_id}-{to_cents(refund.amount)}"


@transaction.atomic
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
    locked, payment = _lock_payment(payment.pk)
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
    pending = payment.refunds.filter(status=RefundStatus.PENDING).aggregate(s=Sum("amount"))["s"]
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
        _recompute_payment_refunds(payment)
        _recompute(locked)
        _resolve_if_refunded(payment)
        _log(payment, "refund.created", actor, amount=format_cad(amount))
        _after_refund(refund)
    return refund


@transaction.atomic
def _refund_finish(
    *, refund_id: int, stripe_id: str | None, status: str, data: dict[str, Any]
) -> Refund:
    payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
    locked, payment = _lock_payment(payment_id)
    refund = Refund.objects.get(pk=refund_id)  # under its payment's document lock
    if (
        stripe_id
        and Refund.objects.filter(stripe_refund_id=stripe_id).exclude(pk=refund.pk).exists()
    ):
        stripe_id = None  # already recorded from a webhook under another row: keep one
    _refund_settle(
        payment,
        refund,
        stripe_id=cast(str, stripe_id or refund.stripe_refund_id),
        status=status,
        data=data,
    )
    _recompute_payment_refunds(payment)
    _recompute(locked)
    _resolve_if_refunded(payment)
    return refund


def refund_retry(*, refund: Refund) -> Refund:
    """Ask Stripe again for a refund left pending (Stripe did not answer). The same
    idempotency key and parameters make Stripe return the refund it made, or make it once."""
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
            return _refund_finish(
                refund_id=refund.pk,
                stripe_id=None,
                status=RefundStatus.FAILED,
                data={"failure_reason": str(error)},
            )
        return refund
    status = _REFUND_STATUS.get(str(data.get("status")), RefundStatus.PENDING)
    return _refund_finish(refund_id=refund.pk, stripe_id=data["id"], status=status, data=data)


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


def receipt_claim(*, payment_id: int, field: str) -> bool:
    """Claim the right to send one receipt (``receipt_sent_at``) or one company notice
    (``company_notified_at``): exactly one caller gets True per payment."""
    if field not in ("receipt_sent_at", "company_notified_at"):
        raise ValueError(field)
    claimed = Payment.objects.filter(
        pk=payment_id, status=PaymentStatus.SUCCEEDED, applied=True, **{field: None}
    ).update(**{field: timezone.now()})
    return claimed == 1


def receipt_unclaim(*, payment_id: int, field: str) -> None:
    """Sending failed: give the claim back so a retry can send."""
    if field not in ("receipt_sent_at", "company_notified_at"):
        raise ValueError(field)
    Payment.objects.filter(pk=payment_id).update(**{field: None})


def refund_notice_claim(*, refund_id: int) -> bool:
    """Claim the right to email one refund's notice: exactly one caller gets True."""
    claimed = Refund.objects.filter(
        pk=refund_id, status=RefundStatus.SUCCEEDED, notice_sent_at=None
    ).update(notice_sent_at=timezone.now())
    return claimed == 1


def refund_notice_unclaim(*, refund_id: int) -> None:
    """Sending failed: give the claim back so a retry can send."""
    Refund.objects.filter(pk=refund_id).update(notice_sent_at=None)
