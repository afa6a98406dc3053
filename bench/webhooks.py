"""Signed Stripe webhooks through the real endpoint, then the worker: accept rate, processing
rate, CPU per event, nothing lost.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cc_x REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/webhooks.py [--events 1500] [--dupes 0.05] [--clients 8] \\
        [--concurrency 2] [--port 8150] [--stripe-port 8151]

What it does:

- makes a throw-away PostgreSQL database (``<DATABASE_URL's name>_webhooks``, dropped at the
  end) and migrates it;
- runs the fake Stripe server (``tests/fakes/stripe_server.py``, whose objects are Stripe's own
  example objects) standalone on ``--stripe-port``, connects a company, and starts one Checkout
  Session per invoice through ``billing.services.checkout_start``; each session is then paid in
  the fake *without* delivering its webhook, which gives one ``checkout.session.completed``
  event per invoice, shaped exactly as the fake (and Stripe) sends it;
- counts the request path's queries for one event in this process (Django's test client, the
  task queued to Redis, not run);
- starts gunicorn with production settings (``DEBUG=false``, ``-c gunicorn.conf.py -w 2``,
  Celery tasks queued in Redis) and **no worker**, then posts every event, plus ``--dupes`` of
  them a second time (Stripe redelivers), in random order from ``--clients`` threads on the
  loopback, each signed with the real ``Stripe-Signature`` scheme at send time: the **accept**
  phase (verify, store, queue), measured alone;
- then starts a Celery worker (``--concurrency`` processes, the queue full) and waits until the
  queue is drained and every stored event is final: the **processing** phase (re-fetch from
  the fake Stripe, apply, activity, automations, receipts);
- prints for each phase events/s and CPU per event for the app (gunicorn master + workers, or
  the Celery worker and its children, from ``/proc/<pid>/stat``) and for the database (the
  PostgreSQL backends serving the bench database, from ``/proc``), and checks in the database
  that nothing was lost or doubled: every event stored once and applied, every payment
  succeeded, every invoice paid in full, one ``payment.received`` activity row and one receipt
  per payment.

Exits non-zero when anything was lost, doubled or answered other than 200.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
WEBHOOK_SECRET = "whsec_bench_" + secrets.token_hex(16)
QUEUE = "bench-webhooks"


def bench_env(db_url: str, redis_url: str, port: int, stripe_url: str) -> dict[str, str]:
    """Production settings, pointed at the throw-away database and the fake Stripe."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crewcommand.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SIGNATURE_SEAL_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": f"https://127.0.0.1:{port}",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": QUEUE,
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_url,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
    }


def admin_sql(db_url: str, *statements: str) -> None:
    import psycopg

    parts = urlsplit(db_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def start_fake_stripe(port: int):
    """The fake Stripe server, on a fixed port (the bench's range), in this process."""
    import threading as th
    from http.server import ThreadingHTTPServer

    from tests.fakes.base import _RequestHandler
    from tests.fakes.stripe_server import StripeFake

    fake = StripeFake()
    fake.webhook_secret = WEBHOOK_SECRET
    handler = type("BoundHandler", (_RequestHandler,), {"fake": fake})
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    httpd.daemon_threads = True
    fake._httpd = httpd
    fake._thread = th.Thread(target=httpd.serve_forever, daemon=True)
    fake._thread.start()
    return fake


def make_events(fake, count: int) -> list[dict]:
    """``count`` sent invoices, each with a Checkout Session paid in the fake: their events."""
    from django.utils import timezone

    from billing import services
    from billing.models import StripeAccount
    from tests.factories import CompanyFactory, CustomerFactory, InvoiceFactory

    company = CompanyFactory(name="Maple Plumbing", slug="maple-bench")
    account = fake.add_account()
    StripeAccount.objects.create(
        company=company,
        account_id=account["id"],
        charges_enabled=True,
        details_submitted=True,
        connected_at=timezone.now(),
    )
    customers = [CustomerFactory(company=company) for _ in range(50)]
    template = InvoiceFactory(company=company, customer=customers[0])
    events = []
    for i in range(count):
        invoice = template if i == 0 else clone_invoice(template, customers[i % len(customers)])
        started = services.checkout_start(
            document=invoice,
            amount=None,
            return_urls=lambda p: (
                f"https://127.0.0.1/pay/{p.public_id}/done/?session_id={{CHECKOUT_SESSION_ID}}",
                f"https://127.0.0.1/pay/{p.public_id}/cancelled/",
            ),
        )
        fake.complete_session(started.payment.stripe_session_id, send_webhook=False)
        events.append(fake.events[-1])
    return events


def clone_invoice(template, customer):
    """A copy of a sent invoice (its lines too) under the next number: fast set-up."""
    from crewcommand.lib.ids import new_public_id
    from documents.models import Invoice, LineItem

    lines = list(template.lines.all())
    invoice = Invoice.objects.get(pk=template.pk)
    invoice.pk = None
    invoice.public_id = new_public_id()
    invoice.customer = customer
    invoice.job = None
    invoice.number = Invoice.objects.filter(company=template.company).count() + 1
    invoice.save(force_insert=True)
    for line in lines:
        line.pk = None
        line.public_id = new_public_id() if hasattr(line, "public_id") else None
        line.invoice = invoice
    LineItem.objects.bulk_create(lines)
    return invoice


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(x) for x in text)
    return found


def backend_pids(dbname: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'",
            [dbname],
        )
        return [row[0] for row in cursor.fetchall()]


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz", headers={"X-Forwarded-Proto": "https"})
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def post_event(port: int, event: dict) -> int:
    import stripe

    payload = json.dumps(event).encode()
    signature = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), WEBHOOK_SECRET, None
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(
        "POST",
        "/webhooks/stripe/",
        body=payload,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature,
            "X-Forwarded-Proto": "https",
            "Host": "127.0.0.1",
        },
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def _client_post(client, event: dict) -> int:
    """Post one signed event through Django's test client; the answer's status."""
    import stripe

    payload = json.dumps(event)
    signature = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    response = client.post(
        "/webhooks/stripe/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )
    assert response.status_code == 200, response.content
    return response.status_code


def count_queries(event: dict) -> tuple[int, int]:
    """Queries of one event in this process: on the request path (the task is queued to Redis,
    not run), then of processing it as the worker does (the task queued then finds it done)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from billing import webhooks
    from billing.models import StripeEvent

    client = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="127.0.0.1")
    with CaptureQueriesContext(connection) as request_path:
        _client_post(client, event)
    pk = StripeEvent.objects.get(event_id=event["id"]).pk
    with CaptureQueriesContext(connection) as processing:
        outcome = webhooks.event_process(event_pk=pk)
    assert outcome == "applied", outcome
    if os.environ.get("BENCH_SHOW_SQL"):
        for q in [*request_path, *processing]:
            print("  ", q["sql"][:300])
    return len(request_path), len(processing)


def profile(events: list[dict]) -> None:
    """cProfile of the request path, then of processing, in this process."""
    import cProfile
    import pstats

    from django.test import Client

    from billing import webhooks
    from billing.models import StripeEvent

    client = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="127.0.0.1")
    sort = os.environ.get("BENCH_SORT", "cumulative")
    for phase in ("request path", "processing"):
        profiler = cProfile.Profile()
        start = time.perf_counter()
        for event in events:
            if phase == "request path":
                profiler.runcall(_client_post, client, event)
            else:
                pk = StripeEvent.objects.get(event_id=event["id"]).pk
                profiler.runcall(webhooks.event_process, event_pk=pk)
        ms = (time.perf_counter() - start) * 1000 / len(events)
        print(f"--- {phase}: in-process ms per event {ms:.1f}")
        pstats.Stats(profiler).sort_stats(sort).print_stats(30)


def check(events: list[dict]) -> list[str]:
    """What was lost or doubled, checked in the database."""
    from django.db.models import Count

    from billing.models import Payment, PaymentStatus, StripeEvent
    from crewcommand.models import Activity, Message
    from documents.models import Invoice, InvoiceStatus

    problems = []
    ids = {e["id"] for e in events}
    rows = StripeEvent.objects.filter(type="checkout.session.completed")
    stored = list(rows.values_list("event_id", flat=True))
    if len(stored) != len(ids) or set(stored) != ids:
        problems.append(
            f"events stored {len(stored)} (distinct {len(set(stored))}), sent {len(ids)}"
        )
    not_applied = rows.exclude(status="applied").count()
    if not_applied:
        problems.append(f"events not applied {not_applied}")
    paid = Payment.objects.filter(status=PaymentStatus.SUCCEEDED, applied=True).count()
    if paid != len(ids):
        problems.append(f"payments succeeded {paid} of {len(ids)}")
    unpaid = Invoice.objects.exclude(status=InvoiceStatus.PAID).count()
    wrong = sum(1 for inv in Invoice.objects.all() if inv.amount_paid != inv.total)
    if unpaid or wrong:
        problems.append(f"invoices not paid {unpaid}, amount_paid != total {wrong}")
    received = Activity.objects.filter(verb="payment.received").count()
    if received != len(ids):
        problems.append(f"payment.received rows {received} of {len(ids)}")
    # Receipts run behind the events (with the PDF renders): none may be doubled.
    doubled = (
        Message.objects.filter(template="receipt")
        .values("concerning_type", "concerning_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    if doubled:
        problems.append(f"payments with two receipts {doubled}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1500, help="distinct events (default 1500)")
    parser.add_argument("--dupes", type=float, default=0.05, help="share redelivered (0.05)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent senders (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--concurrency", type=int, default=2, help="Celery worker processes (default 2)"
    )
    parser.add_argument("--port", type=int, default=8150)
    parser.add_argument("--stripe-port", type=int, default=8151)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="instead: cProfile N events in-process"
    )
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (its server hosts the bench)")
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/5"
    parts = urlsplit(base_url)
    dbname = parts.path.lstrip("/") + "_webhooks"
    db_url = urlunsplit(parts._replace(path="/" + dbname))
    admin_sql(
        db_url, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)', f'CREATE DATABASE "{dbname}"'
    )

    sys.path.insert(0, str(ROOT))
    stripe_url = f"http://127.0.0.1:{args.stripe_port}"
    env = bench_env(db_url, redis_url, args.port, stripe_url)
    os.environ.update(env)
    import logging

    import django

    django.setup()
    logging.disable(logging.WARNING)
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    fake = start_fake_stripe(args.stripe_port)
    events = make_events(fake, args.events)
    print(f"set-up            {time.perf_counter() - started:.0f} s ({args.events} invoices)")
    from django.db import connection

    connection.close()
    if args.profile:
        profile(events[: args.profile])
        admin_sql(db_url, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        return 0
    from redis import Redis

    Redis.from_url(redis_url).delete(QUEUE)  # left by an interrupted run
    request_queries, processing_queries = count_queries(events[0])
    connection.close()

    deliveries = events + random.sample(events, round(len(events) * args.dupes))
    random.shuffle(deliveries)
    n = len(deliveries)
    print(f"deliveries        {n} ({len(events)} events + {n - len(events)} redelivered)")
    accept = accept_phase(args, env, fake, deliveries, dbname)
    print(
        f"accept            {n / accept['elapsed']:.0f} events/s   CPU ms per delivery "
        f"{accept['app'] + accept['db']:.2f}  (app {accept['app']:.2f}, database "
        f"{accept['db']:.2f})",
        flush=True,
    )
    process = processing_phase(args, env, dbname)

    problems = check(events)
    if set(accept["statuses"]) != {200}:
        problems.append(f"answers {accept['statuses']}")
    if process["stalled"]:
        problems.append("processing stalled (no progress for 60 s)")
    print(
        f"clients/gunicorn workers/celery concurrency  {args.clients} / {args.workers} / "
        f"{args.concurrency}"
    )
    print(
        f"queries per event  request path {request_queries}, processing {processing_queries}"
        " (+ the receipt task)"
    )
    # Celery's Django fix-up closes the database connection after every task, so the worker's
    # backends live for one task each and are gone before /proc can be read: their CPU (a
    # backend's start-up included) is not in this figure.
    print(
        f"process           {process['done'] / process['elapsed']:.0f} events/s   worker CPU ms "
        f"per event {process['app']:.2f} (database not measurable: one connection per task)"
        f"  drained in {process['elapsed']:.0f} s"
    )
    print(f"lost/doubled      {(len(problems) and 'PROBLEMS') or 0}")
    for problem in problems:
        print("  " + problem)
    connection.close()
    Redis.from_url(redis_url).delete(QUEUE)
    if not args.keep:
        admin_sql(db_url, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    return 1 if problems else 0


def accept_phase(args, env: dict[str, str], fake, deliveries: list[dict], dbname: str) -> dict:
    """gunicorn, no worker: every delivery verified, stored and queued."""
    import tempfile

    from django.db import connection

    # A file, not a pipe: a pipe nobody reads fills up and blocks the workers' logging.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed after gunicorn stops)
    gunicorn = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{args.port}",
            "--access-logfile",
            "/dev/null",
            "crewcommand.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        wait_ready(args.port)
        # Warm each worker and its connection pool (the events' real work starts after this).
        warm = [fake.build_event("account.updated", fake.add_account()) for _ in range(40)]
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(lambda e: post_event(args.port, e), warm))
        app_pids = [gunicorn.pid, *children(gunicorn.pid)]
        db_before = {pid: cpu_ticks(pid) for pid in backend_pids(dbname)}
        app_before = sum(cpu_ticks(pid) for pid in app_pids)
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def send(event: dict) -> None:
            status = post_event(args.port, event)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

        start = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(send, deliveries))
        elapsed = time.perf_counter() - start
        app_pids = [gunicorn.pid, *children(gunicorn.pid)]
        app_ticks = sum(cpu_ticks(pid) for pid in app_pids) - app_before
        db_after = {pid: cpu_ticks(pid) for pid in backend_pids(dbname)}
        db_ticks = sum(t - db_before.get(pid, 0) for pid, t in db_after.items())
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        try:
            gunicorn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
            gunicorn.wait()
        log.seek(0)
        err = log.read()
        log.close()
        if sys.exc_info()[0] is not None or set(statuses) != {200}:
            print(err.decode()[-4000:], file=sys.stderr)
        connection.close()
    n = len(deliveries)
    return {
        "statuses": statuses,
        "elapsed": elapsed,
        "app": app_ticks * 1000 / TICK / n,
        "db": db_ticks * 1000 / TICK / n,
    }


def processing_phase(args, env: dict[str, str], dbname: str) -> dict:
    """A Celery worker started on the full queue; timed from its first finished event until
    every stored event is final. What each payment queues after its commit (receipt, company
    notice, the invoice's PDF render: ~0.4 s of CPU each) runs behind, in the same queue, and
    is not waited for: ``check`` counts the receipts written by then (none may be doubled)."""
    from django.db import connection

    from billing.models import EVENT_OPEN, StripeEvent

    open_events = StripeEvent.objects.filter(status__in=EVENT_OPEN)
    total_open = open_events.count()
    worker = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "crewcommand",
            "worker",
            "-Q",
            QUEUE,
            "--concurrency",
            str(args.concurrency),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env={**env, "DATABASE_POOL": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 1800
        while open_events.count() == total_open and time.monotonic() < deadline:
            time.sleep(0.05)
        start = time.perf_counter()
        pids = [worker.pid, *children(worker.pid)]
        app_before = sum(cpu_ticks(pid) for pid in pids)
        db_before = {pid: cpu_ticks(pid) for pid in backend_pids(dbname)}
        done_at_start = total_open - open_events.count()
        progress, progress_at, stalled = None, time.monotonic(), False
        while time.monotonic() < deadline:
            state = open_events.count()
            if not state:
                break
            if state != progress:
                progress, progress_at = state, time.monotonic()
            elif time.monotonic() - progress_at > 60:
                stalled = True  # tasks lost (a flushed Redis?): beat's sweeps would find them
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - start
        pids = [worker.pid, *children(worker.pid)]
        app_ticks = sum(cpu_ticks(pid) for pid in pids) - app_before
        db_after = {pid: cpu_ticks(pid) for pid in backend_pids(dbname)}
        db_ticks = sum(t - db_before.get(pid, 0) for pid, t in db_after.items())
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        connection.close()
    done = total_open - done_at_start
    return {
        "stalled": stalled,
        "elapsed": elapsed,
        "done": done,
        "app": app_ticks * 1000 / TICK / max(done, 1),
        "db": db_ticks * 1000 / TICK / max(done, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
