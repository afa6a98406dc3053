"""Each pytest-xdist worker gets its own Redis database.

Loaded by ``scripts/test`` with ``-p`` so it runs before Django reads its settings, in the
controller and in every worker (xdist names the worker in ``PYTEST_XDIST_WORKER`` before it
builds the worker's configuration). Worker ``gwN`` uses the database ``REDIS_URL`` names plus N:
``cache.clear()`` between tests empties one worker's cache, never another's rate-limit counts or
page cache mid-test. Processes a test starts (a Celery worker) inherit the rewritten URL.
Each worker's test database is pytest-django's own (``test_<name>_gwN``)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

REDIS_DATABASES = 16  # Redis's default number of databases


def worker_redis_url(url: str, worker: str) -> str:
    """``redis://host:6379/3`` for worker ``gw2`` → ``redis://host:6379/5`` (wrapping at 16)."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    number = (base + int(worker.removeprefix("gw"))) % REDIS_DATABASES
    return urlunsplit(parts._replace(path=f"/{number}"))


_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = worker_redis_url(os.environ["REDIS_URL"], _worker)
