"""Pages against the framework's floor, under production settings, with gunicorn and wrk.

    .venv/bin/python bench/pages.py [--db postgres|sqlite|both] [--rounds 3] [--duration 3]
        [--pages invoice estimate invoices home booking review] [--port 8140]

Starts ``gunicorn -c gunicorn.conf.py -w 2`` on loopback with ``DEBUG`` off (manifest static
files, secure cookies, HSTS, the Redis cache when ``REDIS_URL`` is set, PostgreSQL's pool), seeds
one company (a 20-line sent invoice and a sent estimate with options behind portal links, 100
customers with a job, an estimate and an invoice each, the booking page, a review link), then
for each page runs wrk (1 thread, 8 connections) in interleaved rounds against the page and
against its **floor**: ``/__floor__/<page>/``, a view that answers the page's own bytes through
the same middleware stack (with the same session cookie for dashboard pages) and does nothing
else. That URL exists only while ``CREWCOMMAND_BENCH_FLOOR_DIR`` is set, which only this script
does.

Printed per round and page: requests/s, p50/p99 latency and **server CPU per request** (utime +
stime of the gunicorn master and workers from ``/proc``, before/after, divided by the requests
wrk made). CPU per request is the stable figure on a shared machine; throughput moves with
whatever else runs. The summary takes the median of the rounds: page and floor CPU ms/request,
their ratio, and the throughput ratio page/floor.

PostgreSQL: ``--pg-url`` (default ``$BENCH_DATABASE_URL``, else a ``crewcommand_bench``
database on 127.0.0.1), created if missing, migrated, emptied and seeded on every run. SQLite:
a throw-away file. Requests only go to 127.0.0.1; the whole run is bounded by ``--timeout``.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
PAGES = ("invoice", "estimate", "invoices", "home", "booking", "review")
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/crewcommand_bench"
TICKS = os.sysconf("SC_CLK_TCK")


def server_env(database_url: str, floor_dir: Path) -> dict[str, str]:
    """Production settings, as behind the TLS proxy (``X-Forwarded-Proto: https``)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CREWCOMMAND_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "crewcommand.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "CREWCOMMAND_TESTING": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SIGNATURE_SEAL_KEY": secrets.token_urlsafe(40),
            "SITE_URL": "https://bench.example",
            "ALLOWED_HOSTS": f"{HOST},bench.example",
            "EMAIL_URL": "locmem://",
            "TRUST_X_FORWARDED_PROTO": "true",
            "CACHE_KEY_PREFIX": "bench-pages",
            "CELERY_QUEUE": "bench-pages",  # no worker here: dropped at the end
            "LOG_LEVEL": "WARNING",
            "CREWCOMMAND_BENCH_FLOOR_DIR": str(floor_dir),
        }
    )
    return env


# --- Seeding (in this process, with the server's settings) ---------------------------------------


def prepare_database(database_url: str) -> None:
    if not database_url.startswith("postgres"):
        return
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


@dataclass
class Seeded:
    paths: dict[str, str]
    cookie: str


def seed(rows: int) -> Seeded:
    """One company with everything the pages show; ``rows`` customers behind the lists."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    call_command("migrate", verbosity=0, interactive=False)
    call_command("flush", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)

    from list_pages import grow

    from booking.models import BookingSettings
    from crewcommand.lib.activity import Actor
    from portal import services as portal
    from reviews.services import review_link_for
    from tests.factories import (
        CompanyFactory,
        CustomerFactory,
        EstimateFactory,
        InvoiceFactory,
        MemberFactory,
    )

    company = CompanyFactory(
        name="Bench Plumbing & Heating",
        slug="bench",
        phone="416 555 0100",
        gst_number="123456789 RT0001",
        google_review_url="https://g.page/r/bench",
    )
    member = MemberFactory(company=company)
    BookingSettings.objects.create(
        company=company, services="Water heater\nFurnace\nDrain cleaning\nLeak repair"
    )
    customer = CustomerFactory(company=company, name="Alex Martin")
    actor = Actor.system()
    lines = [
        {
            "description": f"Line {i}: copper fitting, labour and parts",
            "quantity": str(i % 4 + 1),
            "unit_price": f"{Decimal(37) + Decimal(i) * Decimal('12.25')}",
            "taxable": i % 5 != 0,
        }
        for i in range(20)
    ]
    invoice = InvoiceFactory(customer=customer, lines=lines, notes="Thanks!", terms_text="Net 30")
    estimate = EstimateFactory(customer=customer)
    invoice_link = portal.link_create(customer=customer, actor=actor, document=invoice)
    estimate_link = portal.link_create(customer=customer, actor=actor, document=estimate)
    review = review_link_for(customer=customer).removeprefix(settings.SITE_URL)
    grow(company, member, rows)

    client = Client()
    client.force_login(member.user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return Seeded(
        paths={
            "invoice": f"/p/{invoice_link.token}/invoices/{invoice.public_id}/",
            "estimate": f"/p/{estimate_link.token}/estimates/{estimate.public_id}/",
            "invoices": reverse("documents:invoice_list"),
            "home": reverse("dashboard:home"),
            "booking": reverse("booking_public:book", args=[company.slug]),
            "review": review,
        },
        cookie=cookie,
    )


# --- Server and measurement -----------------------------------------------------------------------


def cpu_ticks(master: int) -> int:
    """utime + stime of the gunicorn master and its workers (clock ticks)."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        children = []
    total = 0
    for pid in [str(master), *children]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total


def port_free(port: int) -> None:
    import socket

    with socket.socket() as probe:
        if probe.connect_ex((HOST, port)) == 0:
            raise SystemExit(f"port {port} is taken (a server left running?): use --port")


def wait_up(port: int, deadline: float, server: subprocess.Popen) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited")
        try:
            urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer /healthz in time")


def headers_for(name: str, cookie: str) -> dict[str, str]:
    headers = {"X-Forwarded-Proto": "https", "Host": "bench.example"}
    if name in {"invoices", "home"}:
        headers["Cookie"] = cookie
    return headers


def fetch(port: int, path: str, headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(f"http://{HOST}:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status}")
        return response.read()


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(out: str, percentile: str) -> float:
    """A latency percentile of wrk's output in ms (nan when wrk printed none)."""
    found = re.search(rf"{percentile}%\s+([\d.]+)(us|ms|s|m)\b", out)
    return float(found.group(1)) * UNITS[found.group(2)] if found else float("nan")


@dataclass
class Run:
    rps: float
    p50: float
    p99: float
    cpu_ms: float
    requests: int


def wrk(port: int, path: str, headers: dict[str, str], duration: int, master: int) -> Run:
    command = [
        "wrk",
        "-t1",
        "-c8",
        f"-d{duration}s",
        "--latency",
        *[arg for key, value in headers.items() for arg in ("-H", f"{key}: {value}")],
        f"http://{HOST}:{port}{path}",
    ]
    before = cpu_ticks(master)
    out = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=True
    ).stdout
    spent = cpu_ticks(master) - before
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"{path}: errors under load\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return Run(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50=_ms(out, "50"),
        p99=_ms(out, "99"),
        cpu_ms=spent * 1000 / TICKS / max(requests, 1),
        requests=requests,
    )


def bench(args: argparse.Namespace, database_url: str, label: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if database_url == "sqlite":
            database_url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        floor_dir = Path(tmp) / "floor"
        floor_dir.mkdir()
        env = server_env(database_url, floor_dir)
        prepare_database(database_url)
        # Seed in a child with the server's settings (this process never loads Django).
        seeded = subprocess.run(
            [sys.executable, __file__, "--seed-only", str(args.rows)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if seeded.returncode:
            raise SystemExit(f"seeding failed:\n{seeded.stderr[-4000:]}")
        values = dict(line.split("=", 1) for line in seeded.stdout.split("\n") if "=" in line)
        cookie = values.pop("cookie")
        port_free(args.port)
        server = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                "-w",
                "2",
                "-b",
                f"{HOST}:{args.port}",
                "--access-logfile",
                "/dev/null",
                "crewcommand.wsgi:application",
            ],
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            wait_up(args.port, time.monotonic() + 60, server)
            for name in args.pages:
                body = fetch(args.port, values[name], headers_for(name, cookie))
                (floor_dir / f"{name}.html").write_bytes(body)
                values[f"{name}.bytes"] = str(len(body))
                # Warm both (templates, connections) before measuring.
                wrk(args.port, values[name], headers_for(name, cookie), 1, server.pid)
                wrk(args.port, f"/__floor__/{name}/", headers_for(name, cookie), 1, server.pid)
            runs: dict[str, list[tuple[Run, Run]]] = {name: [] for name in args.pages}
            print(
                f"\n{label}: gunicorn -c gunicorn.conf.py -w 2, DEBUG off, wrk -t1 -c8 -d{args.duration}s"
            )
            print(
                f"{'round':>5} {'page':<9} {'req/s':>7} {'p50':>7} {'p99':>7} {'CPU ms':>7}"
                f" | {'floor/s':>7} {'p50':>7} {'p99':>7} {'CPU ms':>7} | {'CPU x':>6} {'thr':>5}"
            )
            for round_no in range(1, args.rounds + 1):
                for name in args.pages:
                    headers = headers_for(name, cookie)
                    order = ["page", "floor"] if round_no % 2 else ["floor", "page"]
                    got: dict[str, Run] = {}
                    for which in order:
                        path = values[name] if which == "page" else f"/__floor__/{name}/"
                        got[which] = wrk(args.port, path, headers, args.duration, server.pid)
                    page, floor = got["page"], got["floor"]
                    runs[name].append((page, floor))
                    print(
                        f"{round_no:>5} {name:<9} {page.rps:7.0f} {page.p50:6.1f}m {page.p99:6.1f}m"
                        f" {page.cpu_ms:7.2f} | {floor.rps:7.0f} {floor.p50:6.1f}m"
                        f" {floor.p99:6.1f}m {floor.cpu_ms:7.2f} |"
                        f" {page.cpu_ms / floor.cpu_ms:6.1f} {page.rps / floor.rps:5.2f}",
                        flush=True,
                    )
            print(f"\n{label}, median of {args.rounds} rounds")
            print(
                f"{'page':<9} {'bytes':>7} {'CPU ms/req':>10} {'floor ms/req':>12}"
                f" {'ratio':>6} {'throughput ratio':>16}"
            )
            for name in args.pages:
                page_cpu = statistics.median(p.cpu_ms for p, _f in runs[name])
                floor_cpu = statistics.median(f.cpu_ms for _p, f in runs[name])
                thr = statistics.median(p.rps / f.rps for p, f in runs[name])
                print(
                    f"{name:<9} {values[f'{name}.bytes']:>7} {page_cpu:10.2f} {floor_cpu:12.2f}"
                    f" {page_cpu / floor_cpu:6.1f} {thr:16.2f}"
                )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            drop_queue(env)


def drop_queue(env: dict[str, str]) -> None:
    """Tasks the pages enqueued (no worker ran them) go with the bench's queue."""
    if not env.get("REDIS_URL"):
        return
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).delete(env["CELERY_QUEUE"])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--seed-only":
        seeded = seed(int(sys.argv[2]))
        for name, path in seeded.paths.items():
            print(f"{name}={path}")
        print(f"cookie={seeded.cookie}")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["postgres", "sqlite", "both"], default="postgres")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--rows", type=int, default=100, help="customers behind the lists")
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=list(PAGES))
    parser.add_argument("--port", type=int, default=8140)
    parser.add_argument("--timeout", type=int, default=1200, help="give up after (seconds)")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("bench/pages.py: out of time"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench/pages.py: stopped"))  # gunicorn too
    signal.alarm(args.timeout)
    if args.db in {"postgres", "both"}:
        bench(args, args.pg_url, "PostgreSQL")
    if args.db in {"sqlite", "both"}:
        bench(args, "sqlite", "SQLite")


if __name__ == "__main__":
    main()
