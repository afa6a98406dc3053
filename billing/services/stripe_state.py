"""Applying what Stripe says about an attempt: the one code path for webhooks,
reconciliation and refunds made in Stripe's dashboard."""

from __future__ import annotations

import enum
import logging
from typing import Any, cast

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import stripe_client
from billing.models import (
    EventStatus,
    IssueKind,
    Payment,
    PaymentIssue,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundStatus,
    StripeAccount,
)
from billing.selectors import (
    deposit_payable,
)
from billing.services.events import Claim, event_finish
from billing.services.ledger import (
    Locked,
    enqueue_receipt,
    enqueue_refund_notice,
    lock_payment,
    log_payment,
    recompute_invoice,
    recompute_refunds,
)
from billing.services.metadata import META_REFUND
from crewcommand.lib.activity import Actor
from crewcommand.lib.money import ZERO, format_cad, from_cents, to_cents
from documents.models import Estimate, Invoice, InvoiceStatus

logger = logging.getLogger(__name__)


def _problem(payment: Payment, locked: Locked, *, cents: int, currency: str) -> str | None:
    """Why money that arrived cannot be applied, or None when it fits."""
    if currency.lower() != "cad":
        return IssueKind.CURRENCY_MISMATCH
    if cents != to_cents(payment.amount + payment.tip_amount):
        return IssueKind.AMOUNT_MISMATCH
    if payment.purpose == PaymentPurpose.INVOICE:
        invoice = cast(Invoice, locked.invoice)
        if invoice.status == InvoiceStatus.VOID:
            return IssueKind.DOCUMENT_VOID
        if payment.amount > invoice.balance:
            return IssueKind.OVERPAID
        return None
    payable = deposit_payable(estimate=cast(Estimate, locked.estimate))
    if locked.invoice is not None:
        return IssueKind.DOCUMENT_CLOSED
    if payment.amount > payable.due:
        return IssueKind.OVERPAID
    return None


def _apply_success(
    payment: Payment,
    locked: Locked,
    *,
    cents: int,
    currency: str,
    intent_id: str | None,
    receipt_after_commit: bool = False,
) -> None:
    """succeeded: apply the money if it fits, otherwise record it and open an issue.
    Idempotent: a payment already succeeded is left as it is."""
    if payment.status == PaymentStatus.SUCCEEDED:
        return
    now = timezone.now()
    if intent_id and not payment.stripe_payment_intent_id:
        taken = Payment.objects.filter(stripe_payment_intent_id=intent_id).exclude(pk=payment.pk)
        if not taken.exists():
            payment.stripe_payment_intent_id = intent_id
    problem = _problem(payment, locked, cents=cents, currency=currency)
    # What was asked (in cents) stays in an issue, whatever was taken.
    expected = to_cents(payment.amount + payment.tip_amount)
    if problem is not None and cents > 0:
        # The row records the money that was actually taken.
        received = from_cents(cents)
        if received <= payment.tip_amount:
            payment.tip_amount = ZERO
        payment.amount = received - payment.tip_amount
        payment.currency = currency.lower()[:3]
    payment.status = PaymentStatus.SUCCEEDED
    payment.succeeded_at = payment.finished_at = now
    payment.failure_message = ""
    payment.applied = problem is None
    payment.save()
    if problem is None:
        recompute_invoice(locked.invoice)
        log_payment(payment, "payment.received", _customer_actor(payment))
        enqueue_receipt(payment, after_commit=receipt_after_commit)
        return
    PaymentIssue.objects.get_or_create(
        payment=payment,
        kind=problem,
        defaults={
            "company": payment.company,
            "details": {"cents": cents, "currency": currency, "expected": expected},
        },
    )
    log_payment(payment, "payment.flagged", Actor.system(), problem=str(IssueKind(problem).label))
    logger.warning("payment %s flagged: %s", payment.public_id, problem)
    account = StripeAccount.objects.filter(company_id=payment.company_id).first()
    if problem == IssueKind.OVERPAID and account and account.refund_duplicate_payments:
        from billing.tasks import refund_duplicate_payment

        refund_duplicate_payment.delay_on_commit(payment_id=payment.pk)


def _customer_actor(payment: Payment) -> Actor:
    return Actor.customer(payment.customer.name)


class Applied(enum.StrEnum):
    """What ``stripe_state_apply`` did: applied Stripe's state, or found that the event's claim
    was no longer this worker's and changed nothing."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"


def stripe_state_apply(
    *,
    payment_id: int,
    session: dict[str, Any],
    charge: dict[str, Any] | None = None,
    event: Claim | None = None,
) -> Applied:
    """Apply Stripe's current state of one attempt: its Checkout Session (with the
    PaymentIntent expanded) and, when given, the charge with its refunds.

    The single code path for webhooks, reconciliation and refunds. With ``event`` (a stored
    event this worker claimed), the event row is marked applied, with its company and payment,
    first and in the same transaction: the change commits only with the mark, and only while
    the claim is still this worker's (otherwise ``Applied.DUPLICATE``, nothing changed). The
    row stays locked until commit, so no other worker can claim it meanwhile."""
    with transaction.atomic():
        ref = Payment.objects.values("company_id", "purpose", "invoice_id", "estimate_id").get(
            pk=payment_id
        )
        if event is not None and not event_finish(
            claim=event,
            status=EventStatus.APPLIED,
            company_id=ref["company_id"],
            payment_id=payment_id,
        ):
            return Applied.DUPLICATE
        locked, payment = lock_payment(payment_id, ref=ref)
        # A webhook's receipt is written after commit, in its own task.
        _apply_session(payment, locked, session, receipt_after_commit=event is not None)
        if charge is not None:
            _apply_refunds(payment, locked, charge)
        if event is not None:
            logger.info("stripe event row %s applied to payment %s", event.pk, payment.public_id)
    return Applied.APPLIED


def payment_refresh(
    *, payment: Payment, with_refunds: bool = False, interactive: bool = False
) -> dict[str, Any]:
    """Ask Stripe for one attempt's Checkout Session now and apply it through
    ``stripe_state_apply``: the webhook's own path, without an event. Used by reconciliation
    and by the customer's return page (``interactive``: with a short timeout, as the page
    waits). Returns the session; raises ``StripeFailure``."""
    account = payment.stripe_account_id
    session = stripe_client.checkout_session_retrieve(
        account=account, session_id=cast(str, payment.stripe_session_id), interactive=interactive
    )
    charge = None
    intent = session.get("payment_intent")
    latest = intent.get("latest_charge") if isinstance(intent, dict) else None
    charge_id = latest.get("id") if isinstance(latest, dict) else latest
    if with_refunds and charge_id:
        charge = stripe_client.charge_retrieve(account=account, charge_id=charge_id)
    stripe_state_apply(payment_id=payment.pk, session=session, charge=charge)
    return session


def _intent(session: dict[str, Any]) -> dict[str, Any]:
    intent = session.get("payment_intent")
    return intent if isinstance(intent, dict) else {"id": intent} if intent else {}


def method_details(intent: dict[str, Any]) -> tuple[str, str, str]:
    """(type, wallet, last4) of what paid: from the intent's expanded latest charge."""
    charge = intent.get("latest_charge")
    details = charge.get("payment_method_details") if isinstance(charge, dict) else None
    if not isinstance(details, dict):
        return "", "", ""
    kind = str(details.get("type") or "")[:30]
    found = details.get(kind)
    sub: dict[str, Any] = found if isinstance(found, dict) else {}
    found = sub.get("wallet")
    wallet: dict[str, Any] = found if isinstance(found, dict) else {}
    return kind, str(wallet.get("type") or "")[:30], str(sub.get("last4") or "")[:4]


def _record_method(payment: Payment, intent: dict[str, Any]) -> None:
    kind, wallet, last4 = method_details(intent)
    if kind and (kind, wallet, last4) != (
        payment.method_type,
        payment.wallet,
        payment.method_last4,
    ):
        payment.method_type, payment.wallet, payment.method_last4 = kind, wallet, last4
        payment.save(update_fields=["method_type", "wallet", "method_last4", "updated_at"])


def _apply_session(
    payment: Payment,
    locked: Locked,
    session: dict[str, Any],
    *,
    receipt_after_commit: bool = False,
) -> None:
    if payment.stripe_session_id is None:
        payment.stripe_session_id = session["id"]
        payment.save(update_fields=["stripe_session_id", "updated_at"])
    intent = _intent(session)
    _record_method(payment, intent)
    status, paid = session.get("status"), session.get("payment_status")
    if status == "complete" and paid in ("paid", "no_payment_required"):
        _apply_success(
            payment,
            locked,
            cents=int(session.get("amount_total") or 0),
            currency=str(session.get("currency") or ""),
            intent_id=intent.get("id"),
            receipt_after_commit=receipt_after_commit,
        )
        if payment.save_card and payment.status == PaymentStatus.SUCCEEDED:
            from billing.services.autopay import card_save_from

            card_save_from(payment, intent)
    elif status == "complete":
        if intent.get("status") in ("requires_payment_method", "canceled"):
            _apply_failure(payment, intent)
        else:
            _apply_processing(payment, intent.get("id"))
    elif status == "expired":
        _apply_cancelled(payment)
    elif intent.get("last_payment_error") and payment.status == PaymentStatus.CREATED:
        message = str(intent["last_payment_error"].get("message") or "")[:300]
        if message != payment.failure_message:
            payment.failure_message = message
            payment.save(update_fields=["failure_message", "updated_at"])


def _apply_processing(payment: Payment, intent_id: str | None) -> None:
    if payment.status != PaymentStatus.CREATED:
        return
    payment.status = PaymentStatus.PROCESSING
    if intent_id and not Payment.objects.filter(stripe_payment_intent_id=intent_id).exists():
        payment.stripe_payment_intent_id = intent_id
    payment.save()
    log_payment(payment, "payment.processing", _customer_actor(payment))


def _apply_failure(payment: Payment, intent: dict[str, Any]) -> None:
    if payment.status not in (PaymentStatus.CREATED, PaymentStatus.PROCESSING):
        return
    was_processing = payment.status == PaymentStatus.PROCESSING
    error = intent.get("last_payment_error") or {}
    payment.status = PaymentStatus.FAILED
    payment.failure_message = str(error.get("message") or _("The payment failed."))[:300]
    payment.finished_at = timezone.now()
    payment.save()
    log_payment(payment, "payment.failed", Actor.system())
    if was_processing or payment.is_bank_debit:
        # A bank debit that bounced after days of processing (or before we ever saw it
        # processing: its webhook and the reconciliation both missed that state): the customer
        # left the checkout believing it paid. Nothing was ever applied, so the balance is as
        # before the attempt; both sides hear of it, with a fresh pay link.
        from billing.tasks import send_payment_failed_notice

        send_payment_failed_notice.delay_on_commit(payment_id=payment.pk)


def _apply_cancelled(payment: Payment) -> None:
    if payment.status != PaymentStatus.CREATED:
        return
    payment.status = PaymentStatus.CANCELLED
    payment.finished_at = timezone.now()
    payment.save(update_fields=["status", "finished_at", "updated_at"])


# A Stripe refund's status, as ours (refunds made here and in Stripe's dashboard alike).
REFUND_STATUS = {
    "succeeded": RefundStatus.SUCCEEDED,
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}


def _apply_refunds(payment: Payment, locked: Locked, charge: dict[str, Any]) -> None:
    """Make our refund rows match the charge's refunds (made here or in Stripe's dashboard)."""
    if payment.status != PaymentStatus.SUCCEEDED:
        return
    refunds = (charge.get("refunds") or {}).get("data") or []
    for data in refunds:
        _refund_from_stripe(payment, data)
    recompute_refunds(payment, locked)


def _refund_from_stripe(payment: Payment, data: dict[str, Any]) -> None:
    status = REFUND_STATUS.get(str(data.get("status")), RefundStatus.PENDING)
    ours = (data.get("metadata") or {}).get(META_REFUND)
    refund = None
    if ours:
        refund = Refund.objects.filter(payment=payment, public_id=ours).first()
    if refund is None:
        refund = Refund.objects.filter(payment=payment, stripe_refund_id=data["id"]).first()
    if refund is None:
        refund = Refund.objects.create(
            company=payment.company,
            payment=payment,
            amount=from_cents(int(data["amount"])),
            status=status,
            stripe_refund_id=data["id"],
            reason=_("Refunded in Stripe"),
            succeeded_at=timezone.now() if status == RefundStatus.SUCCEEDED else None,
        )
        if status == RefundStatus.SUCCEEDED:
            log_payment(payment, "refund.created", Actor.system(), amount=format_cad(refund.amount))
            enqueue_refund_notice(refund)
        return
    refund_settle(payment, refund, stripe_id=data["id"], status=status, data=data)


def refund_settle(
    payment: Payment, refund: Refund, *, stripe_id: str, status: str, data: dict[str, Any]
) -> None:
    """Move a refund forward (pending → succeeded | failed); succeeded and failed are final."""
    changed = []
    if refund.stripe_refund_id is None:
        refund.stripe_refund_id = stripe_id
        changed.append("stripe_refund_id")
    if refund.status == RefundStatus.PENDING and status != RefundStatus.PENDING:
        refund.status = status
        changed.append("status")
        if status == RefundStatus.SUCCEEDED:
            refund.succeeded_at = timezone.now()
            changed.append("succeeded_at")
        else:
            refund.failure_message = str(
                data.get("failure_reason") or _("Stripe could not refund.")
            )[:300]
            changed.append("failure_message")
    if changed:
        refund.save(update_fields=[*changed, "updated_at"])
    if "status" in changed:
        actor = Actor.member(refund.created_by) if refund.created_by else Actor.system()
        verb = "refund.created" if refund.status == RefundStatus.SUCCEEDED else "refund.failed"
        log_payment(payment, verb, actor, amount=format_cad(refund.amount))
        enqueue_refund_notice(refund)
