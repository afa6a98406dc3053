"""Verify → store → queue: the webhook answers 200 once the event is stored, and the
processing task does the rest. Nothing is lost when Stripe's API, the broker or the worker is
away, and nothing is done twice.

The first tests run tasks inline (the test settings) against a live server; the last ones run a
real Celery worker on Redis, started and stopped by the test, so the events really wait in the
queue while no worker is there."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.utils import timezone

from billing import services
from billing.models import EventStatus, Payment, PaymentStatus, StripeEvent
from billing.tasks import process_stripe_event, requeue_stripe_events
from crewcommand.models import Activity, Message
from documents.models import Invoice, InvoiceStatus
from tests.billing.conftest import start_checkout, store_event
from tests.factories import InvoiceFactory
from tests.worker import spawn_worker, stop_worker, wait_for, worker_env

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _completed(hooks, invoice) -> dict:
    """The ``checkout.session.completed`` event of a paid checkout, not delivered yet."""
    started = start_checkout(invoice)
    session = hooks.complete_session(started.payment.stripe_session_id, send_webhook=False)
    return hooks.build_event("checkout.session.completed", session)


def _age(**fields_ago: dt.timedelta) -> None:
    """Move the stored events' times into the past (as if the sweep's period went by)."""
    now = timezone.now()
    StripeEvent.objects.update(**{name: now - ago for name, ago in fields_ago.items()})


def _receipts() -> int:
    """Customer receipts written to the outbox (one per applied payment)."""
    return Message.objects.filter(template="receipt").count()


def test_stripe_unreachable_the_event_is_answered_200_kept_and_applied_on_a_later_try(
    invoice, connected, hooks
):
    event = _completed(hooks, invoice)
    hooks.api_failure = 500
    answer = hooks.send_event(event)

    assert (answer.status, answer.body) == (200, b"queued")  # no 503: Stripe is not asked again
    row = StripeEvent.objects.get()
    assert (row.status, row.attempts) == (EventStatus.RECEIVED, 1)
    assert row.retry_at > timezone.now() and row.last_error
    assert Payment.objects.get().status == PaymentStatus.CREATED
    assert process_stripe_event(event_pk=row.pk) == "skipped"  # not before its retry time

    hooks.api_failure = None
    _age(received_at=dt.timedelta(minutes=2), retry_at=dt.timedelta(minutes=1))
    assert requeue_stripe_events() == 1  # beat's sweep; the task runs inline here

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (EventStatus.APPLIED, 2, "")
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED and row.payment == payment
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert _receipts() == 1
    assert requeue_stripe_events() == 0


def test_an_event_stripe_stays_unreachable_for_is_failed_after_the_last_attempt(
    invoice, connected, hooks
):
    event = _completed(hooks, invoice)
    hooks.api_failure = 500
    hooks.send_event(event)
    StripeEvent.objects.update(attempts=services.events.MAX_ATTEMPTS - 1, retry_at=None)
    assert process_stripe_event(event_pk=StripeEvent.objects.get().pk) == EventStatus.FAILED
    row = StripeEvent.objects.get()
    assert row.status == EventStatus.FAILED and row.last_error.startswith("gave up after 12")
    assert row.processed_at is not None
    assert Payment.objects.get().status == PaymentStatus.CREATED


def test_an_event_a_killed_worker_left_processing_is_processed_after_its_lease(
    invoice, connected, hooks
):
    event = _completed(hooks, invoice)
    pk = store_event(event)
    assert services.event_claim(event_pk=pk) is not None  # the worker that was killed
    _age(received_at=dt.timedelta(minutes=30), claimed_at=dt.timedelta(minutes=1))
    assert requeue_stripe_events() == 0  # within the lease: the worker may still be at it
    assert StripeEvent.objects.get().status == EventStatus.PROCESSING

    _age(claimed_at=services.events.lease() + dt.timedelta(seconds=1))
    assert requeue_stripe_events() == 1
    row = StripeEvent.objects.get()
    assert (row.status, row.attempts) == (EventStatus.APPLIED, 2)
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED


def test_the_sweep_leaves_recent_and_finished_events_alone(invoice, connected, hooks):
    hooks.send_event(_completed(hooks, invoice))
    assert StripeEvent.objects.get().status == EventStatus.APPLIED
    _age(received_at=dt.timedelta(hours=1))
    assert requeue_stripe_events() == 0
    assert services.events_due() == []


@pytest.mark.worker
def test_the_webhook_answers_with_one_insert_and_no_other_query(
    invoice, connected, hooks, queued, django_assert_num_queries
):
    """The request path: the event's INSERT is the only query; the task goes to Redis (no
    worker reads this queue here), and the row waits, received."""
    from django.test import Client

    event = _completed(hooks, invoice)
    body = json.dumps(event).encode()
    with django_assert_num_queries(1):
        answer = Client().post(
            "/webhooks/stripe/",
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=hooks.sign(body, hooks.webhook_secret),
        )
    assert (answer.status_code, answer.content) == (200, b"queued")
    row = StripeEvent.objects.get()
    assert (row.status, row.attempts, row.payload["id"]) == (EventStatus.RECEIVED, 0, event["id"])
    session = row.payload["data"]["object"]
    assert session == {
        **session,
        "id": event["data"]["object"]["id"],
        "metadata": event["data"]["object"]["metadata"],
    }
    assert "/p/[redacted]/pay/" in session["success_url"]  # the (fake) portal token
    assert Payment.objects.get().status == PaymentStatus.CREATED


def _drop_queue(queue: str) -> None:
    from redis import Redis

    from crewcommand.celery import app

    Redis.from_url(app.conf.broker_url).delete(queue)


# --- A real worker on Redis ----------------------------------------------------------------------


@pytest.fixture
def queued(settings, fake_stripe_server):
    """Tasks go to a fresh Redis queue no worker reads yet; ``start()`` starts a worker on it
    (with the fake Stripe's address), stopped at the end of the test."""
    from django.db import connection

    from crewcommand.celery import app

    queue = f"test-webhooks-{uuid.uuid4().hex[:8]}"
    previous = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    env = worker_env(
        connection.settings_dict,
        STRIPE_SECRET_KEY="sk_test_fake",
        STRIPE_API_BASE=fake_stripe_server.url,
        STRIPE_MAX_NETWORK_RETRIES="0",
    )
    procs = []

    class Worker:
        def start(self) -> None:
            procs.append(spawn_worker(queue, env)[0])

    try:
        yield Worker()
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous
        for proc in procs:
            stop_worker(proc)
        _drop_queue(queue)


@pytest.mark.worker
def test_events_that_arrive_while_no_worker_runs_are_all_applied_once_it_starts(
    customer, connected, hooks, queued
):
    """Five paid checkouts; every event delivered three times at once (Stripe redelivers).
    With no worker: all answered 200, stored once, nothing applied. A worker starts: every
    payment applied once, one activity row and one receipt each."""
    invoices = [InvoiceFactory(customer=customer) for _ in range(5)]
    events = [_completed(hooks, invoice) for invoice in invoices]
    with ThreadPoolExecutor(max_workers=6) as pool:
        deliveries = list(pool.map(hooks.send_event, events * 3))

    assert {d.status for d in deliveries} == {200}
    assert sorted(d.body for d in deliveries).count(b"queued") == 5
    assert StripeEvent.objects.filter(status=EventStatus.RECEIVED).count() == 5
    assert not Payment.objects.filter(status=PaymentStatus.SUCCEEDED).exists()

    queued.start()

    def all_applied():
        return StripeEvent.objects.filter(status=EventStatus.APPLIED).count() == 5

    wait_for(all_applied, timeout=60)
    payments = Payment.objects.filter(status=PaymentStatus.SUCCEEDED, applied=True)
    assert payments.count() == 5
    assert Activity.objects.filter(verb="payment.received").count() == 5
    for invoice in invoices:
        assert Invoice.objects.get(pk=invoice.pk).amount_paid == invoice.total
    wait_for(lambda: _receipts() == 5, timeout=30)
    assert _receipts() == 5


@pytest.mark.worker
def test_the_worker_retries_an_event_stripe_could_not_answer(invoice, connected, hooks, queued):
    event = _completed(hooks, invoice)
    queued.start()
    hooks.api_failure = 500
    assert hooks.send_event(event).status == 200

    def failed_once():
        return StripeEvent.objects.filter(status=EventStatus.RECEIVED, attempts=1).first()

    row = wait_for(failed_once, timeout=30)
    assert row.retry_at is not None and row.last_error
    hooks.api_failure = None

    def applied():
        return StripeEvent.objects.filter(status=EventStatus.APPLIED).first()

    row = wait_for(applied, timeout=40)  # the first backoff is 10 s
    assert row.attempts == 2
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED


def _use_broker(url: str) -> None:
    """Point this process's Celery app at ``url`` (its connection pools rebuilt, as after a
    fork)."""
    from crewcommand.celery import app

    app.conf.broker_url = url
    app._after_fork()


@pytest.mark.worker
def test_an_event_whose_publish_failed_is_answered_200_and_handed_over_by_the_sweep(
    invoice, connected, hooks, queued
):
    """Redis refuses the connection when the webhook commits: the answer is still 200 (the
    event is stored), nothing is processed, and beat's sweep hands the row to the worker."""
    from redis import Redis

    from billing import webhooks
    from crewcommand.celery import app

    event = _completed(hooks, invoice)
    broker = app.conf.broker_url
    _use_broker("redis://127.0.0.1:9/0")  # nothing listens on port 9: refused at once
    try:
        answer = hooks.send_event(event)
    finally:
        _use_broker(broker)
        webhooks._broker_down_until = 0.0
    assert (answer.status, answer.body) == (200, b"queued")
    row = StripeEvent.objects.get()
    assert (row.status, row.attempts) == (EventStatus.RECEIVED, 0)
    assert not Redis.from_url(broker).llen(app.conf.task_default_queue)  # nothing was queued

    queued.start()
    _age(received_at=dt.timedelta(minutes=1))
    assert requeue_stripe_events() == 1

    def applied():
        return StripeEvent.objects.filter(status=EventStatus.APPLIED).first()

    wait_for(applied, timeout=40)
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
