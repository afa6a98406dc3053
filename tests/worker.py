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


def spawn_worker(queue: str, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    """Start a worker process on ``queue`` with ``env`` and wait until it is ready; returns the
    process and its log file. Stop it with ``stop_worker``."""
    log_path = Path(tempfile.mkdtemp(prefix="cc-worker-")) / "worker.log"
    with log_path.open("w") as log:
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
            env={**env, "CELERY_QUEUE": queue},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("Celery worker did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.2)
    return proc, log_path


def stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def worker_env(settings_dict: dict, **extra: str) -> dict[str, str]:
    """A worker's environment: the test database, no pool, production-like Celery (not eager)."""
    return {
        **os.environ,
        "DATABASE_URL": _database_url(settings_dict),
        "DATABASE_POOL": "false",
        "CREWCOMMAND_TESTING": "false",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@pytest.fixture(scope="session")
def _celery_worker_process(django_db_setup, django_db_blocker, fake_quickbooks_server):
    """The worker process, started once per session. Tests use ``celery_worker_process``."""
    from django.db import connection

    queue = f"test-{uuid.uuid4().hex[:8]}"
    mail_dir = Path(tempfile.mkdtemp(prefix="cc-mail-"))
    env = worker_env(
        connection.settings_dict,
        EMAIL_URL=f"file://{mail_dir}",
        # QuickBooks aimed at the session's fake (inert for companies that never connect).
        **quickbooks_env(fake_quickbooks_server),
    )
    proc, log_path = spawn_worker(queue, env)
    try:
        yield {"queue": queue, "mail_dir": mail_dir, "log": log_path}
    finally:
        stop_worker(proc)


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
