"""Stripe webhooks: verify, store, queue; then, in a worker, from the stored event to a change.

The request path (``event_receive``) only verifies the signature (in the view), stores the
event once by its Stripe id (one INSERT) and queues its processing after commit: Stripe asks
for a quick 2xx "before complex logic", and a slow or unreachable Stripe API never holds a web
worker or turns into a 5xx Stripe would count against the endpoint. Event types we never act
on are answered 200 and not stored.

The worker (``event_process``) claims the row (one conditional UPDATE, so two workers never
process one event) and treats the event only as a trigger. We find the payment attempt it
names, check that everything in it agrees with what we wrote when the attempt started (company,
document, connected account, session or PaymentIntent id), then ask Stripe for the attempt's
current state and apply that through ``billing.services.stripe_state_apply``, the same path
reconciliation uses, which marks the event applied in the same transaction as the change. So
events may arrive duplicated, concurrently and in any order: each one only moves the attempt
towards what Stripe says now. Stripe unreachable: the row goes back to ``received`` with a
retry time (backoff) and is retried by the worker; a permanent failure or an event that
contradicts our records is recorded on the row (``failed``, ``rejected``, with the reason),
where the admin's Stripe events list shows it. A row whose task was lost (broker down at
commit, worker killed) is handed over again by the sweep (``events_requeue``, beat).
"""

from __future__ import annotations

import enum
import logging
import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing import services, stripe_client
from billing.models import EventStatus, Payment, PaymentTransfer, StripeEvent
from billing.services import (
    META_COMPANY,
    META_ESTIMATE,
    META_INVOICE,
    META_PAYMENT,
    Claim,
    EventIn,
)
from billing.stripe_client import StripeFailure, VerifiedEvent

logger = logging.getLogger(__name__)


class Received(enum.StrEnum):
    """What the request path did with a verified event (the answer's body; always a 200)."""

    QUEUED = "queued"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


class Outcome(enum.StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"
    REJECTED = "rejected"
    FAILED = "failed"
    RETRY = "retry"


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
HANDLED_EVENTS = PAYMENT_EVENTS | {"account.updated"}


class Rejected(Exception):
    """The event contradicts what we recorded: apply nothing."""


# --- The request path ----------------------------------------------------------------------------


def event_receive(*, event: VerifiedEvent) -> Received:
    """Store a verified event and queue its processing after commit. Types we never act on
    are not stored (``IGNORED``); a redelivery stores and queues nothing (``DUPLICATE``)."""
    if event.type not in HANDLED_EVENTS:
        return Received.IGNORED
    event_pk = services.event_store(
        event=EventIn(
            id=event.id,
            type=event.type,
            account=event.account,
            created=event.created,
            body=event.body,
        )
    )
    if event_pk is None:
        return Received.DUPLICATE
    transaction.on_commit(lambda: enqueue(event_pk))
    return Received.QUEUED


# After a failed publish this process stops publishing for a moment (the rows are committed and
# the sweep hands them over): a burst of events while Redis is down pays one failed connection.
BROKER_PAUSE_SECONDS = 5.0
_broker_down_until = 0.0


def enqueue(event_pk: int, *, countdown: float | None = None) -> bool:
    """Queue the processing task. A broker that is down only delays the event (the sweep finds
    the row), so the error is logged, not raised into the request."""
    global _broker_down_until
    from billing.tasks import process_stripe_event

    eager = process_stripe_event.app.conf.task_always_eager
    if not eager and time.monotonic() < _broker_down_until:
        return False
    try:
        process_stripe_event.apply_async(kwargs={"event_pk": event_pk}, countdown=countdown)
    except Exception:
        if eager:
            raise  # inline (tests): a failure is the task's own error
        _broker_down_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning("stripe event row %s: enqueue failed; the sweep will retry", event_pk)
        return False
    return True


def events_requeue() -> int:
    """Beat: hand over again the stored events whose task was lost. Returns how many."""
    handed = [pk for pk in services.events_due() if enqueue(pk)]
    services.events_requeued(pks=handed)
    return len(handed)


# --- The worker ----------------------------------------------------------------------------------

# The worker retries itself this soon at most; a longer backoff waits for the sweep (a countdown
# longer than the broker's visibility timeout would be delivered again and again).
COUNTDOWN_HORIZON = 600


def event_process(*, event_pk: int) -> str:
    """Claim one stored event and process it; returns the row's resulting status ("skipped"
    when another worker holds it, it is finished, or its retry time has not come)."""
    claimed = services.event_claim(event_pk=event_pk)
    if claimed is None:
        return "skipped"
    claim, row = claimed
    try:
        event = stripe_client.event_parse(row.payload)
        outcome, error = _process(event, claim)
    except Exception as failure:  # a bug or an outage we did not foresee: retried, then failed
        logger.exception("stripe event %s: processing failed", row.event_id)
        outcome, error = Outcome.RETRY, f"{type(failure).__name__}: {failure}"
    if outcome == Outcome.APPLIED:
        return EventStatus.APPLIED  # marked in the change's own transaction
    if outcome != Outcome.RETRY:
        services.event_finish(claim=claim, status=EventStatus(outcome.value), error=error)
        return outcome.value
    return _retry_later(claim, row, error)


def _retry_later(claim: Claim, row: StripeEvent, error: str) -> str:
    attempts = row.attempts  # read after the claim: this attempt included
    if attempts >= services.events.MAX_ATTEMPTS:
        services.event_finish(
            claim=claim, status=EventStatus.FAILED, error=f"gave up after {attempts}: {error}"
        )
        return EventStatus.FAILED
    wait = services.events.backoff(attempts)
    services.event_finish(
        claim=claim, status=EventStatus.RECEIVED, error=error, retry_at=timezone.now() + wait
    )
    logger.warning("stripe event %s: retry %s in %ss", row.event_id, attempts, wait.seconds)
    if wait.total_seconds() <= COUNTDOWN_HORIZON:
        enqueue(claim.pk, countdown=wait.total_seconds())
    return EventStatus.RECEIVED


def _process(event: VerifiedEvent, claim: Claim) -> tuple[Outcome, str]:
    """What the event does, and why not when it does nothing."""
    if event.type == "account.updated":
        outcome = _account_updated(event, claim)
        return outcome, "" if outcome == Outcome.APPLIED else "not about a connected account"
    if event.type not in PAYMENT_EVENTS:
        return Outcome.IGNORED, "event type not handled"
    try:
        payment = _payment_for(event)
    except Rejected as why:
        logger.warning("stripe event %s rejected: %s", event.id, why)
        return Outcome.REJECTED, str(why)
    if payment is None:
        return Outcome.IGNORED, "about no payment of ours"
    try:
        session, charge = _current_state(event, payment)
    except StripeFailure as error:
        logger.warning("stripe event %s: state fetch failed (%s)", event.id, error.code)
        return (Outcome.FAILED if error.permanent else Outcome.RETRY), str(error)
    services.stripe_state_apply(payment_id=payment.pk, session=session, charge=charge, event=claim)
    return Outcome.APPLIED, ""


def _account_updated(event: VerifiedEvent, claim: Claim) -> Outcome:
    account_id = str(event.object.get("id") or "")
    if not account_id.startswith("acct_") or (event.account and event.account != account_id):
        return Outcome.IGNORED
    with transaction.atomic():
        if services.event_finish(claim=claim, status=EventStatus.APPLIED):
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
        # In the worker: no page waits, so the SDK's own timeout and network retries apply.
        session = stripe_client.checkout_session_retrieve(account=account, session_id=session_id)
    else:
        intent_id = (
            str(event.object["id"]) if event.type in INTENT_EVENTS else _intent_id(event.object)
        )
        # No intent id (a charge event naming none): nothing to ask. An empty filter would
        # match every session on the account, and another attempt's would be applied.
        found = (
            stripe_client.checkout_session_for_intent(account=account, intent_id=intent_id)
            if intent_id
            else None
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
