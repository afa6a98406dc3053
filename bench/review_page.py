"""The review landing page against the framework floor, under production settings.

    .venv/bin/python bench/review_page.py [--sizes 10 1000] [-n 300]

Loads a company with N customers, each with a review request (bulk, in a throw-away SQLite
database), then requests ``/r/<token>/`` and, as the floor, ``/healthz`` (one tiny view through
the same middleware stack: one database query, no template) and ``/`` (a static page rendered
from a template, no query) N times each through Django's test client with ``DEBUG`` off, and
prints requests per second, the queries per request and the ratio to each floor (the issue asks
for at least 0.5).

Without Redis, Celery runs tasks inline, so "landing (opening recorded inline)" also pays for
the worker's write; in production the request only enqueues it. "landing (page alone)" sends
``Sec-Purpose: prefetch``, which skips the enqueue: what the customer's request itself costs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(tmp: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SIGNATURE_SEAL_KEY": secrets.token_urlsafe(40),
            "SITE_URL": "https://bench.example",
            "ALLOWED_HOSTS": "bench.example",
            "EMAIL_URL": "locmem://",
            "TRUST_X_FORWARDED_PROTO": "true",  # as behind the TLS proxy
        }
    )
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewcommand.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # No collectstatic here: plain static storage, as in the browser tests (the manifest
    # storage's lookup is one dict read per asset).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    call_command("migrate", verbosity=0, interactive=False)


def grow(company, target: int) -> str:
    """Bring the company to ``target`` customers with a review request each; one link back."""
    from crewcommand.models import Customer
    from reviews.services import review_link_for

    have = Customer.objects.filter(company=company).count()
    url = ""
    for i in range(have, target):
        customer = Customer.objects.create(company=company, name=f"Customer {i:05d}", province="ON")
        url = review_link_for(customer=customer)
    return url.removeprefix("https://bench.example")


def rate(client, path: str, n: int, **headers) -> tuple[float, int]:
    from django.db import connection

    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(path, headers=headers)
    start = time.perf_counter()
    for _ in range(n):
        client.get(path, headers=headers)
    return n / (time.perf_counter() - start), len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(Path(tmp))
        from django.test import Client

        from crewcommand.models import Company

        company = Company.objects.create(
            name="Bench Plumbing",
            slug="bench",
            province="ON",
            google_review_url="https://g.page/r/x",
        )
        client = Client(SERVER_NAME="bench.example", HTTP_X_FORWARDED_PROTO="https")
        path = ""
        for size in args.sizes:
            path = grow(company, size) or path
            floor, floor_q = rate(client, "/healthz", args.n)
            page_floor, page_floor_q = rate(client, "/", args.n)
            page, page_q = rate(client, path, args.n, Sec_Purpose="prefetch")
            full, full_q = rate(client, path, args.n)
            print(f"{size} customers with a review request")
            print(f"  floor (/healthz)                    {floor:7.0f} req/s  {floor_q} q")
            print(
                f"  floor with a template (/)           {page_floor:7.0f} req/s  {page_floor_q} q"
            )
            print(
                f"  landing (page alone)                {page:7.0f} req/s  {page_q} q  {page / floor:.2f} x floor, {page / page_floor:.2f} x template floor"
            )
            print(
                f"  landing (opening recorded inline)   {full:7.0f} req/s  {full_q} q  {full / floor:.2f} x floor, {full / page_floor:.2f} x template floor"
            )


if __name__ == "__main__":
    main()
