"""The public booking page against the framework's floor, as the company grows.

    .venv/bin/python bench/booking_page.py [--sizes 10 1000] [-n 200]

Two references: ``/healthz``, the cheapest page Django serves here through the whole middleware
stack (one ``SELECT 1``, a small JSON answer), and the login page (no query, a two-field form
in the app's layout). The booking page (one query, a 17-field form in the company's layout) is
requested the same way, ``n`` times through Django's test client with ``DEBUG`` off, in a
throw-away SQLite database, and each ratio reference ÷ page is printed. Its query count must be
the same at every size. Most of the page's time is Django rendering the form's widgets (each
``<option>`` is a template), not the query.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from list_pages import grow, setup_django


def timed(client, url: str, n: int) -> tuple[int, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(10):  # warm the template cache and the connection
        client.get(url)
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
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("-n", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(Path(tmp))
        from django.conf import settings
        from django.test import Client
        from django.urls import reverse

        from booking.models import BookingSettings
        from tests.factories import CompanyFactory, MemberFactory

        settings.DEBUG = False
        member = MemberFactory(company=CompanyFactory(slug="bench"))
        BookingSettings.objects.create(company=member.company, services="A\nB\nC\nD")
        client = Client()
        book = reverse("booking_public:book", args=["bench"])
        for size in args.sizes:
            grow(member.company, member, size)
            _q, floor = timed(client, reverse("healthz"), args.n)
            _q, login = timed(client, reverse("login"), args.n)
            queries, page = timed(client, book, args.n)
            print(
                f"{size:>5} customers: booking page {page:6.2f} ms ({queries} q); "
                f"healthz {floor:5.2f} ms (ratio {floor / page:.2f}); "
                f"login page {login:5.2f} ms (ratio {login / page:.2f})"
            )


if __name__ == "__main__":
    main()
