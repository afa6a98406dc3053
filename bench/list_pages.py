"""Queries and time per page as the data grows: the dashboard lists, home and the portal.

    .venv/bin/python bench/list_pages.py [--sizes 10 100 1000] [-n 5]

For each size it loads that many customers, jobs, estimates and invoices (bulk, in a throw-away
SQLite database), then requests each page N times through Django's test client and prints the
SQL query count and the median time. "Constant queries per page whatever the row count" shows as
the same query count in every column.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(tmp: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ.pop("REDIS_URL", None)
    os.environ["CREWCOMMAND_TESTING"] = "true"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewcommand.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def grow(company, member, target: int) -> None:
    """Bring the company to ``target`` customers, each with a job, an estimate and an invoice."""
    from django.utils import timezone

    from crewcommand.lib.ids import new_public_id
    from crewcommand.models import Customer, Job
    from documents.models import Estimate, EstimateRevision, Invoice, InvoiceStatus

    have = Customer.objects.filter(company=company).count()
    today = timezone.localdate()
    for i in range(have, target):
        customer = Customer.objects.create(company=company, name=f"Customer {i:05d}", province="ON")
        Job.objects.create(company=company, customer=customer, title=f"Job {i}")
        estimate = Estimate.objects.create(company=company, customer=customer, number=i + 1)
        revision = EstimateRevision.objects.create(
            estimate=estimate, province="ON", total=Decimal("113.00"), sent_at=timezone.now()
        )
        estimate.current_revision = revision
        estimate.status = "sent"
        estimate.sent_at = timezone.now()
        estimate.save()
        Invoice.objects.create(
            company=company,
            customer=customer,
            number=i + 1,
            province="ON",
            status=InvoiceStatus.SENT,
            issue_date=today,
            due_date=today,
            total=Decimal("113.00"),
            public_id=new_public_id(),
        )


def measure(client, url: str, n: int) -> tuple[int, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(n):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return len(queries.captured_queries), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("-n", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(Path(tmp))
        from django.test import Client
        from django.urls import reverse

        from tests.factories import CompanyFactory, MemberFactory

        member = MemberFactory(company=CompanyFactory(slug="bench"))
        client = Client()
        client.force_login(member.user)
        pages = {
            "home": reverse("dashboard:home"),
            "customers": reverse("dashboard:customer_list"),
            "jobs": reverse("dashboard:job_list"),
            "estimates": reverse("documents:estimate_list"),
            "invoices": reverse("documents:invoice_list"),
            "payments": reverse("billing_dashboard:payment_list"),
        }
        results: dict[str, list[str]] = {name: [] for name in pages}
        for size in args.sizes:
            grow(member.company, member, size)
            for name, url in pages.items():
                queries, ms = measure(client, url, args.n)
                results[name].append(f"{queries:>3} q {ms:7.1f} ms")
        header = "page".ljust(10) + "".join(f"{size:>18} rows" for size in args.sizes)
        print(header)
        for name, cells in results.items():
            print(name.ljust(10) + "".join(f"{cell:>23}" for cell in cells))


if __name__ == "__main__":
    main()
