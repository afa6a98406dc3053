"""A real Celery worker process on Redis, reading the test database.

Used by end-to-end tests of background paths: the test commits data (``transaction=True``),
enqueues through the normal code path, and waits for the worker's effect.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.billing.qbo_codes import quickbooks_env

ROOT = Path(__file__).resolve().parent.parent


def _database_url(settings_dict: dict) -> str:
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else f"{user}@"
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def _celery_worker_process(django_db_setup, django_db_blocker, fake_quickbooks_server):
    """The worker process, started once per session. Tests use ``celery_worker_process``."""
    from django.db import connection

    queue = f"test-{uuid.uuid4().hex[:8]}"
    mail_dir = Path(tempfile.mkdtemp(prefix="cc-mail-"))
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "DATABASE_POOL": "false",
        "CELERY_QUEUE": queue,
        "EMAIL_URL": f"file://{mail_dir}",
        "CREWCOMMAND_TESTING": "false",
        "PYTHONUNBUFFERED": "1",
        # QuickBooks aimed at the session's fake (inert for companies that never connect).
        **quickbooks_env(fake_quickbooks_server),
    }
    log_path = Path(tempfile.mkdtemp(prefix="cc-worker-")) / "worker.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "crewcommand",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("Celery worker did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.2)
    try:
        yield {"queue": queue, "mail_dir": mail_dir, "log": log_path}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def celery_worker_process(_celery_worker_process):
    """Tasks go to the real worker for this test only. Flipping ``task_always_eager`` for the
    whole session sent every later test's tasks (receipts from a live server, say) to the
    worker's mail directory instead of ``mail.outbox``, so their assertions failed by order."""
    from crewcommand.celery import app

    previous = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = _celery_worker_process["queue"]
    try:
        yield _celery_worker_process
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous


def wait_for(predicate, *, timeout: float = 20.0, interval: float = 0.1):
    """Poll until ``predicate()`` is truthy; return its value or fail with a clear message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    pytest.fail(f"Timed out after {timeout}s waiting for {predicate.__name__}")
