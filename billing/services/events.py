"""Stored Stripe events: the webhook stores, a worker claims and records the outcome.

Storing (the request path): one ``INSERT … ON CONFLICT (event_id) DO NOTHING RETURNING id``,
in autocommit. A redelivered event finds its row and inserts nothing. The row keeps the raw
body (secret-link paths redacted) and the few columns the admin lists; everything else
(company, payment, outcome) is written by the worker.

Claiming: ``received`` → ``processing`` with one conditional UPDATE (``attempts`` + 1,
``claimed_at`` now), only for a row whose retry time has come; the worker whose UPDATE matched
goes on, so a redelivered task, a beat re-enqueue and a second worker never process one row
together. The outcome is written only while the claim is still this worker's (``claimed_at``
unchanged), and an applied change commits together with its ``applied`` mark
(``stripe_state_apply``). A row left ``processing`` past the lease (a killed worker) is put back
by the sweep; processing again is safe, as every change applies Stripe's current state under row
locks and does nothing when already applied.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from billing.models import EVENT_OPEN, EventStatus, StripeEvent
from crewcommand.lib.logging import redact

# An event still ``received`` this long after it arrived (or after its retry time) lost its
# task (broker down at commit, worker killed): the sweep hands it over again.
REQUEUE_GRACE = dt.timedelta(seconds=30)
# A row the sweep handed over is not handed over again before this (a long backlog drains).
REQUEUE_AGAIN = dt.timedelta(seconds=120)
# Transient failures (Stripe unreachable) are retried this many times, then the row is failed.
MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class EventIn:
    """A verified Stripe event as the webhook received it. ``body``: the raw JSON."""

    id: str
    type: str
    account: str
    created: int
    body: str


@dataclass(frozen=True)
class Claim:
    """A stored event held by one worker: its row and the claim's time (the token)."""

    pk: int
    claimed_at: dt.datetime


def lease() -> dt.timedelta:
    """A claim older than this belongs to a worker that died (longer than a task may run)."""
    return dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


def backoff(attempts: int) -> dt.timedelta:
    """10 s, 20 s, 40 s, … capped at 1 h (Stripe itself retries for three days)."""
    return dt.timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


_INSERT = (
    "INSERT INTO {table} (event_id, type, account, stripe_created, received_at, payload,"
    " status, attempts, last_error) VALUES (%s, %s, %s, %s, %s, %s, %s, 0, '')"
    " ON CONFLICT (event_id) DO NOTHING RETURNING id"
)


def event_store(*, event: EventIn) -> int | None:
    """Store a verified event once: its row id, or None when it was stored before.

    One statement in autocommit, whatever the number of concurrent deliveries: the unique
    index decides which one inserts. The raw body is stored as it came, with secret-link paths
    redacted (a Checkout Session made before return URLs stopped carrying portal tokens echoes
    them): JSON is not re-encoded on the request path."""
    created = dt.datetime.fromtimestamp(event.created, tz=dt.UTC) if event.created else None
    sql = _INSERT.format(table=connection.ops.quote_name(StripeEvent._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                event.id,
                event.type[:100],
                event.account[:64],
                created,
                timezone.now(),
                # PostgreSQL's jsonb refuses the NUL character; nothing we read can hold one.
                redact(event.body).replace("\\u0000", "\\ufffd"),
                EventStatus.RECEIVED,
            ],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def event_claim(*, event_pk: int) -> tuple[Claim, StripeEvent] | None:
    """Take a received event for this worker, or None (taken, finished, or not due yet)."""
    now = timezone.now()
    taken = (
        StripeEvent.objects.filter(pk=event_pk, status=EventStatus.RECEIVED)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .update(status=EventStatus.PROCESSING, attempts=F("attempts") + 1, claimed_at=now)
    )
    if not taken:
        return None
    return Claim(pk=event_pk, claimed_at=now), StripeEvent.objects.get(pk=event_pk)


def event_finish(*, claim: Claim, status: EventStatus, error: str = "", **fields: Any) -> bool:
    """Record an outcome, only while the claim is still this worker's. ``status`` received
    means "again later" (``retry_at`` in ``fields``). Returns whether the row was updated."""
    if status == EventStatus.RECEIVED:
        fields["requeued_at"] = None
    else:
        fields["processed_at"] = timezone.now()
    return bool(
        StripeEvent.objects.filter(
            pk=claim.pk, status=EventStatus.PROCESSING, claimed_at=claim.claimed_at
        ).update(status=status, last_error=redact(error)[:500], **fields)
    )


def events_due(*, limit: int = 1000) -> list[int]:
    """The sweep: put back rows abandoned in ``processing`` (past the lease), then the ids of
    received rows that should have been processed by now and were not handed over lately."""
    now = timezone.now()
    StripeEvent.objects.filter(status=EventStatus.PROCESSING, claimed_at__lt=now - lease()).update(
        status=EventStatus.RECEIVED, requeued_at=None
    )
    return list(
        StripeEvent.objects.filter(status__in=EVENT_OPEN, received_at__lt=now - REQUEUE_GRACE)
        .filter(status=EventStatus.RECEIVED)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now - REQUEUE_GRACE))
        .filter(Q(requeued_at__isnull=True) | Q(requeued_at__lte=now - REQUEUE_AGAIN))
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )


def events_requeued(*, pks: list[int]) -> None:
    """The sweep handed these rows to the broker: not again before ``REQUEUE_AGAIN``."""
    StripeEvent.objects.filter(pk__in=pks, status=EventStatus.RECEIVED).update(
        requeued_at=timezone.now()
    )
