"""Stripe webhook processing: from a verified event to a change, or to a reasoned refusal.

The event is only a trigger. We find the payment attempt it names, check that everything in it
agrees with what we wrote when the attempt started (company, document, connected account,
session or PaymentIntent id), then ask Stripe for the attempt's current state and apply that
through ``billing.services.stripe_state_apply``, the same path reconciliation uses. So events
may arrive duplicated, concurrently and in any order: each one only moves the attempt towards
what Stripe says now, and the event row (unique by Stripe id) is written in the same
transaction as the change.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from billing import services, stripe_client
from billing.models import Payment, PaymentTransfer
from billing.services import (
    META_COMPANY,
    META_ESTIMATE,
    META_INVOICE,
    META_PAYMENT,
    EventIn,
)
from billing.stripe_client import StripeFailure, VerifiedEvent

logger = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    REJECTED = "rejected"
    RETRY = "retry"


HTTP_STATUS = {
    Outcome.APPLIED: 200,
    Outcome.DUPLICATE: 200,
    Outcome.IGNORED: 200,
    Outcome.REJECTED: 400,
    Outcome.RETRY: 503,
}

SESSION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)
INTENT_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed"})
CHARGE_EVENTS = frozenset({"charge.refunded", "charge.refund.updated"})
PAYMENT_EVENTS = SESSION_EVENTS | INTENT_EVENTS | CHARGE_EVENTS


class Rejected(Exception):
    """The event contradicts what we recorded: apply nothing."""


def event_process(*, event: VerifiedEvent) -> Outcome:
    if event.type == "account.updated":
        return _account_updated(event)
    if event.type not in PAYMENT_EVENTS:
        return Outcome.IGNORED
    try:
        payment = _payment_for(event)
    except Rejected as why:
        logger.warning("stripe event %s rejected: %s", event.id, why)
        return Outcome.REJECTED
    if payment is None:
        return Outcome.IGNORED
    try:
        session, charge = _current_state(event, payment)
    except StripeFailure as error:
        logger.warning("stripe event %s: state fetch failed (%s)", event.id, error.code)
        return Outcome.RETRY if not error.permanent else Outcome.REJECTED
    result = services.stripe_state_apply(
        payment_id=payment.pk,
        session=session,
        charge=charge,
        event=EventIn(
            id=event.id,
            type=event.type,
            account=event.account,
            created=event.created,
            payload=event.payload,
        ),
    )
    return Outcome.DUPLICATE if result == services.Applied.DUPLICATE else Outcome.APPLIED


def _account_updated(event: VerifiedEvent) -> Outcome:
    account_id = str(event.object.get("id") or "")
    if not account_id.startswith("acct_") or (event.account and event.account != account_id):
        return Outcome.IGNORED
    services.stripe_account_update(account_id=account_id, data=event.object)
    return Outcome.APPLIED


def _metadata(obj: dict[str, Any]) -> dict[str, str]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _payment_for(event: VerifiedEvent) -> Payment | None:
    """The attempt an event is about, checked against everything we recorded for it.

    None: the event is not about anything of ours (no metadata of ours, no known id).
    Raises Rejected when the event claims to be ours but disagrees with our records."""
    obj = event.object
    metadata = _metadata(obj)
    ours = {k: v for k, v in metadata.items() if k.startswith("cc_")}
    payment = _by_metadata(ours) if ours else None
    if payment is None:
        payment = _by_stripe_id(event.type, obj)
    if payment is None:
        if ours:
            raise Rejected("metadata names no attempt of ours")
        return None
    _check(event, payment, ours)
    return payment


def _by_metadata(ours: dict[str, str]) -> Payment | None:
    public_id = str(ours.get(META_PAYMENT) or "")
    if not public_id:
        return None
    return (
        Payment.objects.select_related("company", "invoice", "estimate")
        .filter(public_id=public_id)
        .first()
    )


def _by_stripe_id(event_type: str, obj: dict[str, Any]) -> Payment | None:
    qs = Payment.objects.select_related("company", "invoice", "estimate")
    object_id = str(obj.get("id") or "")
    if event_type in SESSION_EVENTS:
        return qs.filter(stripe_session_id=object_id).first() if object_id else None
    if event_type in INTENT_EVENTS:
        return qs.filter(stripe_payment_intent_id=object_id).first() if object_id else None
    intent = obj.get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, dict) else intent
    return qs.filter(stripe_payment_intent_id=intent_id).first() if intent_id else None


def _check(event: VerifiedEvent, payment: Payment, ours: dict[str, str]) -> None:
    if not payment.stripe_account_id or event.account != payment.stripe_account_id:
        raise Rejected("connected account differs")
    if ours:
        if ours.get(META_PAYMENT) != payment.public_id:
            raise Rejected("payment differs")
        if ours.get(META_COMPANY) != payment.company.public_id:
            raise Rejected("company differs")
        document_key = (
            META_INVOICE if payment.invoice_id and payment.purpose == "invoice" else META_ESTIMATE
        )
        if ours.get(document_key) != payment.document.public_id and not _moved_from(
            payment, ours.get(document_key)
        ):
            raise Rejected("document differs")
        other_key = META_ESTIMATE if document_key == META_INVOICE else META_INVOICE
        if other_key in ours:
            raise Rejected("names another document")
    obj = event.object
    object_id = str(obj.get("id") or "")
    if event.type in SESSION_EVENTS and payment.stripe_session_id not in (None, object_id):
        raise Rejected("session differs")
    intent_id = object_id if event.type in INTENT_EVENTS else _intent_id(obj)
    if event.type not in SESSION_EVENTS and payment.stripe_payment_intent_id not in (
        None,
        intent_id,
    ):
        raise Rejected("payment intent differs")


def _moved_from(payment: Payment, invoice_public_id: str | None) -> bool:
    """The payment was moved (``PaymentTransfer``) away from the invoice Stripe's metadata
    still names: that invoice is where it started, not a contradiction."""
    return (
        bool(invoice_public_id)
        and PaymentTransfer.objects.filter(
            payment=payment, from_invoice__public_id=invoice_public_id
        ).exists()
    )


def _intent_id(obj: dict[str, Any]) -> str | None:
    intent = obj.get("payment_intent")
    return intent.get("id") if isinstance(intent, dict) else intent


def _current_state(
    event: VerifiedEvent, payment: Payment
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Ask Stripe for the attempt's session now (and the charge, for refund events)."""
    account = payment.stripe_account_id
    session_id = payment.stripe_session_id
    if session_id is None and event.type in SESSION_EVENTS:
        session_id = str(event.object["id"])
    if session_id is not None:
        # Stripe's delivery waits for this answer as a customer's page would: a Stripe API that
        # hangs gets the short timeout (a 503 here, and Stripe delivers again later) instead of
        # holding a web worker for the SDK's 80 s and retries.
        session = stripe_client.checkout_session_retrieve(
            account=account, session_id=session_id, interactive=True
        )
    else:
        intent_id = (
            str(event.object["id"]) if event.type in INTENT_EVENTS else _intent_id(event.object)
        )
        found = stripe_client.checkout_session_for_intent(
            account=account, intent_id=intent_id or ""
        )
        if found is None:
            raise StripeFailure("no session for this payment intent", permanent=True)
        session = found
    charge = None
    if event.type in CHARGE_EVENTS:
        charge_id = str(
            event.object.get("id")
            if event.type == "charge.refunded"
            else event.object.get("charge")
        )
        charge = stripe_client.charge_retrieve(account=account, charge_id=charge_id)
    return session, charge
