"""Load, with faults on request: portal customers, dashboard users and webhooks at once against
gunicorn + PostgreSQL + Redis + a Celery worker, then the invariants checked in the database.

    .venv/bin/python bench/load.py [--users 50] [--seconds 60]
        [--fault pg-restart|redis-stop|worker-kill|stripe-down]

Everything runs on loopback, in processes this script starts and stops: its own PostgreSQL
cluster (``initdb`` in a temporary folder, port ``--pg-port``, 8163) and its own Redis
(``--redis-port``, 8162), so a fault hits nobody else; gunicorn (``--port``, 8164, 3 workers with
the app's pool), one Celery worker (concurrency 2, ``DATABASE_POOL=false``) and beat, all with
production settings (``DEBUG`` off); the fake Stripe (``tests/fakes/stripe_server.py``) in this
process, delivering its signed webhooks to gunicorn.

- ``--users`` portal customers, one thread each, each with their own link, estimate and
  invoice: open the portal, the estimate and its PDF, sign it (once), open the invoice, open the
  pay page, start a checkout, pay on the fake Stripe's hosted page (which sends the signed
  webhook) and land on the return page (once), then keep reading their pages;
- 3 dashboard users (log in, then home, customers, estimates, invoices, payments);
- 1 webhook sender: signed Twilio status callbacks and unsigned Stripe bodies (refused: 400).

Prints requests, errors (5xx or no answer) and p50/p99 per page, then, once the queue is empty,
the invariants: every invoice paid has exactly one succeeded payment and an amount paid equal to
its total; every estimate signed has exactly one signature and every signature re-verifies;
no outgoing message is left queued or sending, and none was sent twice (one per key).

Faults (during the run, at a third of it):
- ``pg-restart``: ``pg_ctl restart -m fast`` of the cluster. Requests in flight fail; each answer
  must be the 503 page (no traceback), and the app must recover without a restart;
- ``redis-stop``: Redis stopped for ``--fault-seconds`` (60), then started again: pages keep
  being served and no payment, signature or message is lost;
- ``worker-kill``: the Celery worker's process group killed with SIGKILL ``--kills`` (20) times,
  spread over the run, and started again each time. Emails go over SMTP to the fake server
  (``tests/fakes/smtp_server.py``), so "sent once" is counted at the server by Message-ID; every succeeded payment must
  have its receipt sent once, every due message sent once, nothing left queued;
- ``stripe-down``: at a quarter of the run, the fake Stripe's API answers 500s for the first
  half of ``--fault-seconds`` (30), then hangs (answers after 90 s: a timeout for every client)
  for the second half, and holds its webhooks; every second customer waits on Stripe's page
  until the fault begins and pays there during it, the others come to pay only once it began. Then Stripe recovers and delivers the held
  webhooks (its retries) except every second one (lost for good). Checkouts during the fault
  must fail with a clear message (no 5xx, no hanging page), and every invoice paid at Stripe
  must end up paid here (webhooks, the return page and reconciliation).

After the load the script waits, up to ``--settle-seconds``, for the invariants to hold (the
worker, beat's sweeps and reconciliation finishing), and prints how long that took.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_BIN = Path("/usr/lib/postgresql/15/bin")
TWILIO_TOKEN = "load-twilio-auth-token-0123456789abcdef"


# --- Services ------------------------------------------------------------------------------------


class Postgres:
    def __init__(self, tmp: Path, port: int) -> None:
        self.dir, self.port = tmp / "pg", port
        self.dir.mkdir()
        shutil.chown(self.dir, "postgres")
        self._as_postgres(PG_BIN / "initdb", "-D", self.dir, "-U", "postgres", "--auth=trust", "-N")

    def _as_postgres(self, *args) -> None:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    def ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            PG_BIN / "pg_ctl", "-D", self.dir, "-l", self.dir / "log", "-o", options, "-w",
            action, *extra,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/crewcommand"


class Redis:
    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.5)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


# --- The world the users act on -------------------------------------------------------------------


def prepare(users: int, stripe) -> dict:
    """Migrate, then a company with Stripe connected, an owner, and per user a customer with a
    sent estimate and a sent invoice and a portal link to all their documents (raw token kept)."""
    from django.core.management import call_command
    from django.utils import timezone

    from billing.models import StripeAccount
    from crewcommand.lib.activity import Actor
    from portal import services as portal
    from tests import factories

    call_command("migrate", verbosity=0, interactive=False)
    # Production settings serve hashed static files from the manifest (a fresh checkout has none).
    call_command("collectstatic", verbosity=0, interactive=False)
    owner = factories.MemberFactory(
        user__email="owner@load.example", user__password="load-password-2026"
    )
    company = owner.company
    StripeAccount.objects.create(
        company=company,
        account_id=stripe.add_account()["id"],
        charges_enabled=True,
        details_submitted=True,
        connected_at=timezone.now(),
    )
    people = []
    for i in range(users):
        customer = factories.CustomerFactory(
            company=company, name=f"Load Customer {i:03d}", email=f"load{i}@example.com"
        )
        estimate = factories.EstimateFactory(customer=customer)
        invoice = factories.InvoiceFactory(customer=customer)
        issued = portal.link_create(customer=customer, actor=Actor.system())
        people.append(
            {"token": issued.token, "estimate": estimate.public_id, "invoice": invoice.public_id}
        )
    return {"people": people, "owner": ("owner@load.example", "load-password-2026")}


# --- Users ----------------------------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.samples: list[str] = []
        self.unavailable = 0  # clean 503 pages (during a fault)
        self.timeouts = 0  # no answer within the client's 30 s
        self.timeouts_at: list[str] = []  # "label@seconds into the run" of the first few
        self.started = time.monotonic()
        self.tracebacks = 0
        self.refusals: dict[str, int] = defaultdict(int)
        self.messages: dict[str, int] = defaultdict(int)  # refusal messages shown, by text
        self.signed: set[str] = set()
        self.paid: set[str] = set()

    def record(self, label: str, started: float, response) -> None:
        elapsed = time.monotonic() - started
        with self.lock:
            self.times[label].append(elapsed)
            if response is None:
                self.timeouts += 1
                if len(self.timeouts_at) < 12:
                    self.timeouts_at.append(f"{label}@{started - self.started:.0f}s")
            elif response.status_code >= 500:
                body = response.text
                if "Traceback" in body or 'File "' in body:
                    self.tracebacks += 1
                if response.status_code == 503 and "Back in a moment" in body:
                    self.unavailable += 1
                else:
                    self.errors[label] += 1
                    if len(self.samples) < 5:
                        self.samples.append(f"{label}: {response.status_code}")


def _refused(self, label: str, response) -> None:
    """A step the user could not complete (a 4xx, or a form shown again): kept as a sample."""
    with self.lock:
        self.refusals[label] += 1
        if response is not None:
            found = re.findall(
                r'class="(?:form-errors|field-error|alert alert-error)"[^>]*>\s*(?:<[^>]+>\s*)*([^<]{0,120})',
                response.text,
            )
            for text in found[:1]:
                self.messages[f"{label} {response.status_code}: {text.strip()}"] += 1
            if len(self.samples) < 8:
                self.samples.append(f"{label} refused: {response.status_code} {found[:2]}")


Stats.refused = _refused  # type: ignore[attr-defined]


def _session():
    """A browser-like session over loopback HTTP: production settings mark the session and
    CSRF cookies Secure (behind TLS in production), which a client keeps from plain HTTP, so
    ``Run.call`` clears the flag on what it receives."""
    import requests

    return requests.Session()


def _form(html: str, page_url: str, action_part: str) -> tuple[str, dict] | None:
    from tests.test_form_fuzz import FormParser

    parser = FormParser(page_url)
    parser.feed(html)
    for target in parser.targets:
        if target.method == "post" and action_part in urlsplit(target.url).path:
            return target.url, dict(target.fields)
    return None


class Run:
    def __init__(self, base: str, stats: Stats, deadline: float) -> None:
        self.base, self.stats, self.deadline = base, stats, deadline
        # stripe-down: these customers stay on Stripe's page until the outage begins, then pay.
        self.pay_gate: threading.Event | None = None
        self.gated: set[str] = set()
        # …and these come to pay only once it has begun (their checkouts meet the outage).
        self.late: set[str] = set()

    def call(self, session, label: str, method: str, url: str, **kw):
        import requests

        started = time.monotonic()
        try:
            response = session.request(method, urljoin(self.base, url), timeout=30, **kw)
            for cookie in session.cookies:
                cookie.secure = False
        except requests.RequestException:
            response = None
        self.stats.record(label, started, response)
        return response

    def portal_user(self, person: dict) -> None:
        session = _session()
        token, home = person["token"], f"/p/{person['token']}/"
        estimate = f"{home}estimates/{person['estimate']}/"
        invoice = f"{home}invoices/{person['invoice']}/"
        pay = f"{home}pay/invoices/{person['invoice']}/"
        while time.monotonic() < self.deadline:
            self.call(session, "portal home", "GET", home)
            page = self.call(session, "estimate", "GET", estimate)
            self.call(session, "estimate pdf", "GET", estimate + "pdf/")
            if page is not None and page.ok and token not in self.stats.signed:
                form = _form(page.text, urljoin(self.base, estimate), "/accept/")
                if form:
                    url, data = form
                    data.update(signer_name="Load Customer", method="typed", consent="on")
                    answer = self.call(session, "sign", "POST", url, data=data, headers={
                        "Referer": urljoin(self.base, estimate)})  # fmt: skip
                    if answer is not None and answer.ok:
                        self.stats.signed.add(token)
                    else:
                        self.stats.refused("sign", answer)
            self.call(session, "invoice", "GET", invoice)
            if token not in self.stats.paid:
                self._pay(session, token, pay)

    def _pay(self, session, token: str, pay: str) -> None:
        if self.pay_gate is not None and token in self.late and not self.pay_gate.is_set():
            return
        page = self.call(session, "pay page", "GET", pay)
        if page is None or not page.ok:
            return
        form = _form(page.text, urljoin(self.base, pay), "/pay/invoices/")
        if not form:
            return
        url, data = form
        answer = self.call(session, "checkout", "POST", url, data=data, allow_redirects=False,
                           headers={"Referer": urljoin(self.base, pay)})  # fmt: skip
        if answer is None or answer.status_code not in (302, 303):
            self.stats.refused("checkout", answer)
            return
        hosted = answer.headers["Location"]
        if self.pay_gate is not None and token in self.gated:
            self.gated.discard(token)
            self.pay_gate.wait(timeout=max(0.0, self.deadline - time.monotonic()))
        paid = session.post(hosted, data={"action": "pay"}, allow_redirects=False, timeout=30)
        if paid.status_code in (302, 303):
            back = self.call(session, "pay return", "GET", paid.headers["Location"])
            if back is not None and back.ok:
                self.stats.paid.add(token)

    def dashboard_user(self, login: tuple[str, str]) -> None:
        session = _session()
        page = self.call(session, "login", "GET", "/accounts/login/")
        if page is None or not page.ok:
            return
        form = _form(page.text, urljoin(self.base, "/accounts/login/"), "/accounts/login/")
        data = dict(form[1]) if form else {}
        data.update(username=login[0], password=login[1])
        self.call(session, "login", "POST", "/accounts/login/", data=data,
                  headers={"Referer": urljoin(self.base, "/accounts/login/")})  # fmt: skip
        pages = [
            "/app/",
            "/app/customers/",
            "/app/estimates/",
            "/app/invoices/",
            "/app/billing/payments/",
        ]
        while time.monotonic() < self.deadline:
            for url in pages:
                self.call(session, "dashboard", "GET", url)

    def webhooks(self) -> None:
        import requests
        from twilio.request_validator import RequestValidator

        session = requests.Session()
        url = urljoin(self.base, "/webhooks/twilio/status/")
        while time.monotonic() < self.deadline:
            params = {"MessageSid": "SM" + secrets.token_hex(16), "MessageStatus": "delivered"}
            signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
            self.call(session, "twilio webhook", "POST", url, data=params,
                      headers={"X-Twilio-Signature": signature})  # fmt: skip
            self.call(session, "stripe webhook (unsigned)", "POST", "/webhooks/stripe/",
                      data=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})  # fmt: skip
            time.sleep(0.05)


# --- Invariants -----------------------------------------------------------------------------------


def invariants(stats: Stats, stripe=None, smtp=None) -> tuple[list, list]:
    """(problems, lines to print): what the database says once the run is over."""
    from django.db import connection
    from django.db.models import Count, Q
    from django.utils import timezone

    from billing.models import Payment, PaymentStatus
    from crewcommand.models import Message, MessageStatus
    from documents.models import Estimate, Invoice, InvoiceStatus
    from portal.models import Signature
    from portal.services import signature_verify

    connection.close()  # this process's own connection may predate a PostgreSQL restart
    problems, lines = [], []
    paid = Invoice.objects.filter(status=InvoiceStatus.PAID).annotate(
        ok=Count("payments", filter=Q(payments__status=PaymentStatus.SUCCEEDED))
    )
    for invoice in paid:
        if invoice.ok != 1 or invoice.amount_paid != invoice.total:
            problems.append(f"invoice {invoice.public_id}: {invoice.ok} payments")
    succeeded = Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count()
    lines.append(
        f"payments: {len(stats.paid)} paid by the users, {paid.count()} invoices paid, "
        f"{succeeded} succeeded payments"
    )
    if paid.count() < len(stats.paid) or succeeded != paid.count():
        problems.append("paid invoices and succeeded payments differ")
    if stripe is not None:
        # Every invoice paid at Stripe (a session paid there) is paid here.
        with stripe.lock:
            at_stripe = {
                o["metadata"].get("cc_invoice")
                for o in stripe.objects.values()
                if o["object"] == "checkout.session" and o.get("payment_status") == "paid"
            }
        here = set(paid.values_list("public_id", flat=True))
        lines.append(
            f"stripe: {len(at_stripe)} invoices paid at Stripe, {len(at_stripe - here)} of them "
            "not paid here"
        )
        if at_stripe - here:
            problems.append("invoices paid at Stripe but not here")
    receipts = Payment.objects.filter(status=PaymentStatus.SUCCEEDED)
    unsent = receipts.filter(receipt_sent_at=None).count()
    per_payment = (
        Message.objects.filter(template="receipt")
        .values("concerning_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    lines.append(
        f"receipts: {receipts.count() - unsent} of {receipts.count()} succeeded payments have "
        f"their receipt queued, {per_payment} invoices with more than one receipt"
    )
    if unsent or per_payment:
        problems.append("receipts")
    signatures = list(Signature.objects.select_related("estimate", "revision", "company", "link"))
    bad = [s for s in signatures if not signature_verify(signature=s).ok]
    per_estimate = Estimate.objects.annotate(n=Count("signature")).filter(n__gt=1).count()
    lines.append(
        f"signatures: {len(stats.signed)} signed by the users, {len(signatures)} stored, "
        f"{len(bad)} fail to verify, {per_estimate} estimates signed twice"
    )
    if bad or per_estimate or len(signatures) < len(stats.signed):
        problems.append("signatures")
    # Due ones only: a text queued inside quiet hours waits for their end, on purpose.
    pending = Message.objects.filter(
        status__in=[MessageStatus.QUEUED, MessageStatus.SENDING], send_after__lte=timezone.now()
    ).count()
    twice = (
        Message.objects.exclude(key="").values("key").annotate(n=Count("id")).filter(n__gt=1)
    ).count()
    by_status = dict(Message.objects.values_list("status").annotate(n=Count("id")))
    requeued = Message.objects.exclude(requeued_at=None).count()
    retried = Message.objects.filter(attempts__gt=1).count()
    lines.append(
        f"messages: {by_status}, {pending} due but still queued or sending, {twice} keys twice; "
        f"{requeued} re-enqueued by beat, {retried} claimed more than once"
    )
    if pending or twice:
        problems.append("messages")
    if smtp is not None:
        # Each email the SMTP server took, counted by its Message-ID.
        handed: dict[str, int] = defaultdict(int)
        for received in list(smtp.received):
            found = re.match(r"<([^@>]+)@", received.email["Message-ID"] or "")
            if found:
                handed[found.group(1)] += 1
        emails = Message.objects.filter(channel="email", status=MessageStatus.SENT)
        sent_ids = set(emails.values_list("public_id", flat=True))
        doubled = sum(1 for n in handed.values() if n > 1)
        missing = len(sent_ids - set(handed))
        lines.append(
            f"emails at the transport: {sum(handed.values())} for {len(sent_ids)} sent rows, "
            f"{doubled} sent more than once, {missing} sent rows never handed over"
        )
        if doubled or missing:
            problems.append("emails not sent exactly once")
    return problems, lines


def settle(stats: Stats, seconds: int, **checks) -> tuple[list, list, float]:
    """Wait for the invariants to hold (the worker and beat finishing), at most ``seconds``."""
    started = time.monotonic()
    while True:
        problems, lines = invariants(stats, **checks)
        waited = time.monotonic() - started
        if not problems or waited >= seconds:
            return problems, lines, waited
        time.sleep(5)


# --- Main -----------------------------------------------------------------------------------------


def _env(pg: Postgres, redis: Redis, stripe, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": pg.url,
        "REDIS_URL": redis.url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SIGNATURE_SEAL_KEY": secrets.token_urlsafe(40),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "ALLOW_INSECURE_SITE_URL": "true",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "EMAIL_URL": "locmem://",
        "LOG_LEVEL": "WARNING",
        "STRIPE_SECRET_KEY": "sk_test_fake",
        "STRIPE_API_BASE": stripe.url,
        "STRIPE_WEBHOOK_SECRET": "whsec_fake_stripe_webhook_secret",
        # The auth token alone: webhooks are verified, and no SMS goes to the real Twilio.
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "DJANGO_SETTINGS_MODULE": "crewcommand.settings",
    }
    return env


def _log(path: Path):
    return path.open("w")  # open for the process's life; removed with tmp


def _wait(url: str, seconds: float = 30) -> None:
    import requests

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument(
        "--fault", choices=["pg-restart", "redis-stop", "worker-kill", "stripe-down"]
    )
    parser.add_argument("--fault-seconds", type=int, help="redis-stop 60, stripe-down 30")
    parser.add_argument("--kills", type=int, default=20, help="worker-kill: how many SIGKILLs")
    parser.add_argument(
        "--settle-seconds", type=int, help="wait for the invariants (15; worker-kill 420)"
    )
    parser.add_argument("--port", type=int, default=8164)
    parser.add_argument("--pg-port", type=int, default=8163)
    parser.add_argument("--redis-port", type=int, default=8162)
    args = parser.parse_args()
    if args.fault_seconds is None:
        args.fault_seconds = 30 if args.fault == "stripe-down" else 60
    if args.settle_seconds is None:
        # A task lost with a killed worker is found by beat's sweeps: messages left queued
        # (10 s) or abandoned "sending" (after the lease, the task time limit + 60 s = 360 s).
        args.settle_seconds = 420 if args.fault == "worker-kill" else 15

    tmp = Path(tempfile.mkdtemp(prefix="load-"))
    os.chmod(tmp, 0o755)
    pg = Postgres(tmp, args.pg_port)
    pg.ctl("start")
    subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-p", str(args.pg_port), "-U", "postgres", "crewcommand"],
        check=True,
    )
    redis = Redis(args.redis_port)
    redis.start()
    from tests.fakes.stripe_server import StripeFake

    stripe = StripeFake().start()
    env = _env(pg, redis, stripe, args.port)
    smtp = None
    if args.fault == "worker-kill":
        from tests.fakes.smtp_server import SmtpFake

        # Real SMTP (the outbox's hand-off at the end of DATA) to a fake server that keeps
        # only messages whose end arrived, like a real one.
        smtp = SmtpFake().start()
        env["EMAIL_URL"] = smtp.url
    os.environ.update({k: v for k, v in env.items() if k != "REDIS_URL"})
    os.environ["DATABASE_POOL"] = "false"
    import django

    django.setup()
    world = prepare(args.users, stripe)
    base = env["SITE_URL"]
    stripe.webhook_url = base + "/webhooks/stripe/"
    stripe.webhook_secret = env["STRIPE_WEBHOOK_SECRET"]
    worker = Worker(tmp, {**env, "DATABASE_POOL": "false"})
    processes = [
        subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "crewcommand.wsgi:application", "-c",
             "gunicorn.conf.py", "--bind", f"127.0.0.1:{args.port}", "--workers", "3",
             "--threads", "4", "--timeout", "60"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=_log(tmp / "gunicorn.log"),
        ),
        subprocess.Popen(
            [str(ROOT / ".venv/bin/celery"), "-A", "crewcommand", "beat", "--loglevel", "WARNING",
             "--schedule", str(tmp / "beat-schedule")],
            cwd=ROOT, env={**env, "DATABASE_POOL": "false"}, stdout=subprocess.DEVNULL,
            stderr=_log(tmp / "beat.log"),
        ),
    ]  # fmt: skip
    worker.start()
    stats = Stats()
    try:
        _wait(base + "/healthz")
        started = stats.started = time.monotonic()
        run = Run(base, stats, started + args.seconds)
        if args.fault == "stripe-down":
            run.pay_gate = threading.Event()
            run.gated = {p["token"] for p in world["people"][::2]}
            run.late = {p["token"] for p in world["people"][1::2]}
        threads = [threading.Thread(target=run.portal_user, args=(p,)) for p in world["people"]]
        threads += [
            threading.Thread(target=run.dashboard_user, args=(world["owner"],)) for _ in range(3)
        ]
        threads.append(threading.Thread(target=run.webhooks))
        for thread in threads:
            thread.start()
        fault_note = ""
        if args.fault == "worker-kill":
            fault_note = kill_worker(worker, args.kills, started, args.seconds)
        elif args.fault == "stripe-down":
            fault_note = stripe_down(stripe, run, started, args.seconds, args.fault_seconds)
        elif args.fault:
            time.sleep(args.seconds / 3)
            if args.fault == "pg-restart":
                at = time.monotonic()
                pg.ctl("restart", "-m", "fast")
                fault_note = f"PostgreSQL restarted at {at - started:.0f} s"
            else:
                redis.stop()
                at = time.monotonic()
                time.sleep(args.fault_seconds)
                redis.start()
                fault_note = (
                    f"Redis stopped {at - started:.0f} s to {time.monotonic() - started:.0f} s"
                )
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        report(stats, elapsed, args, fault_note)
        # The worker finishes what was queued, beat's sweeps find what a fault lost.
        problems, lines, waited = settle(
            stats,
            args.settle_seconds,
            stripe=stripe if args.fault == "stripe-down" else None,
            smtp=smtp,
        )
        print(f"settled {waited:.0f} s after the load" if not problems else
              f"NOT settled after {waited:.0f} s")  # fmt: skip
        for line in lines:
            print(line)
        if sum(stats.errors.values()) or stats.timeouts:
            log = (tmp / "gunicorn.log").read_text().splitlines()
            print("gunicorn.log (last lines):", *log[-25:], sep="\n  ")
    finally:
        worker.stop()
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        stripe.stop()
        redis.stop()
        pg.ctl("stop", "-m", "fast")
        shutil.rmtree(tmp, ignore_errors=True)
    errors = sum(stats.errors.values())
    ok = not problems and errors == 0 and stats.tracebacks == 0
    print("LOAD " + ("PASSED" if ok else f"FAILED {problems}"))
    return 0 if ok else 1


class Worker:
    """The Celery worker, in its own process group so a kill takes its pool children too."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.env, self.log = env, _log(tmp / "worker.log")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(ROOT / ".venv/bin/celery"), "-A", "crewcommand", "worker", "-c", "2",
             "--loglevel", "WARNING"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log,
            start_new_session=True,
        )  # fmt: skip

    def kill(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None


def kill_worker(worker: Worker, kills: int, started: float, seconds: int) -> str:
    """SIGKILL the worker ``kills`` times, evenly from 5 % to 90 % of the run, starting it
    again right after each kill (as a supervisor would)."""
    first, last = seconds * 0.05, seconds * 0.9
    for i in range(kills):
        at = started + first + (last - first) * i / max(1, kills - 1)
        time.sleep(max(0.0, at - time.monotonic()))
        worker.kill()
        worker.start()
    return f"worker SIGKILLed {kills} times from {first:.0f} s to {last:.0f} s"


def stripe_down(stripe, run: Run, started: float, seconds: int, fault_seconds: int) -> str:
    """At a quarter of the run: the API answers 500s, then hangs, while webhooks are held, and
    the customers who waited on Stripe's page (every second one) pay there; then Stripe
    recovers and delivers the held webhooks, every second one lost for good."""
    time.sleep(seconds / 4)
    at = time.monotonic()
    stripe.hold_webhooks = True
    stripe.api_failure = 500
    assert run.pay_gate is not None
    run.pay_gate.set()
    time.sleep(fault_seconds / 2)
    stripe.api_failure = None
    stripe.stall("/v1/", 90)  # longer than any client waits: a timeout
    time.sleep(fault_seconds / 2)
    stripe.unstall()
    end = time.monotonic()
    deliveries = stripe.release_held(drop=lambda i: i % 2 == 1)
    ok = sum(1 for d in deliveries if d.ok)
    failed = [f"{d.status or d.error}" for d in deliveries if not d.ok]
    return (
        f"Stripe down {at - started:.0f} s to {end - started:.0f} s (500s, then hanging); "
        f"{len(deliveries)} held webhooks delivered after it ({ok} accepted"
        + (f", refused: {failed}" if failed else "")
        + "), as many lost"
    )


def report(stats: Stats, elapsed: float, args, fault_note: str) -> None:
    total = sum(len(t) for t in stats.times.values())
    print(
        f"load: {args.users} portal users, 3 dashboard users, 1 webhook sender, {elapsed:.0f} s, "
        f"{total} requests ({total / elapsed:.0f}/s), {sum(stats.errors.values())} server errors, "
        f"{stats.unavailable} clean 503 pages, {stats.tracebacks} tracebacks, "
        f"{stats.timeouts} without an answer in 30 s" + (f"; {fault_note}" if fault_note else "")
    )
    for sample in stats.samples:
        print(f"  sample: {sample}")
    if stats.timeouts_at:
        print(f"  no answer (label@sent at): {', '.join(stats.timeouts_at)}")
    if stats.refusals:
        print(f"  steps refused: {dict(stats.refusals)}")
    for text, n in sorted(stats.messages.items()):
        print(f"  shown {n}x: {text}")
    print(f"  {'page':28} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for label, times in sorted(stats.times.items()):
        ordered = sorted(times)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(
            f"  {label:28} {len(times):8} {stats.errors[label]:6} "
            f"{statistics.median(ordered) * 1000:8.0f} {p99 * 1000:8.0f}"
        )


if __name__ == "__main__":
    sys.exit(main())
