"""Two writers in one critical section at the same moment, on PostgreSQL, or proof that they
never can be.

``Rendezvous.hold(monkeypatch, module, name)`` wraps a function that runs *inside* a critical
section (after its row locks are taken). Each thread's first call waits there for the other
writer. With the locks in place the other writer is stuck on a row lock this thread holds
(PostgreSQL says so through ``pg_blocking_pids``) or has already finished, so this one goes on
alone and ``met`` stays False: the section was exclusive. With a lock missing both writers get
in, meet, and carry on together: the test then sees what two writers at once do to the data.

``race(*writers)`` runs each writer in its own thread, with its own database connection, and
re-raises the first error.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, connections

POLL_SECONDS = 0.01


class Rendezvous:
    def __init__(self, parties: int = 2, timeout: float = 30.0) -> None:
        self.parties = parties
        self.timeout = timeout
        self.met = False
        self.excluded = False  # another writer was seen waiting on a lock this one held
        self._arrived: set[int] = set()
        self._waiting: set[int] = set()
        self._finished = 0
        self._cond = threading.Condition()

    def hold(self, monkeypatch, target: Any, name: str, *, after: bool = False, when=None) -> None:
        """Make ``target.name`` wait for the other writer (before the real call, or ``after``
        it). ``when(*args, **kwargs)`` can limit the wait to some calls."""
        original = getattr(target, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            wanted = when is None or when(*args, **kwargs)
            if wanted and not after:
                self.arrive()
            result = original(*args, **kwargs)
            if wanted and after:
                self.arrive()
            return result

        monkeypatch.setattr(target, name, wrapper)

    def finished(self) -> None:
        with self._cond:
            self._finished += 1
            self._cond.notify_all()

    def arrive(self) -> None:
        """Wait until every writer is here, or another is blocked by this one, or done.
        Only the first call of each thread waits; a writer arriving after the others went on
        alone does not count as meeting them."""
        me = threading.get_ident()
        with self._cond:
            if me in self._arrived:
                return
            self._arrived.add(me)
            self._waiting.add(me)
            if len(self._waiting) == self.parties:
                self.met = True
                self._cond.notify_all()
                return
        try:
            self._wait()
        finally:
            with self._cond:
                self._waiting.discard(me)

    def _wait(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            with self._cond:
                if self.met or self._finished:
                    return
                self._cond.wait(POLL_SECONDS)
            if _someone_waits_for_me():
                self.excluded = True
                return
        raise AssertionError("the other writer neither arrived, nor waited for a lock, nor ended")


def _someone_waits_for_me() -> bool:
    with connection.cursor() as cursor:
        # pg_stat_activity is a snapshot per transaction unless cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND pg_backend_pid() = ANY(pg_blocking_pids(pid)))"
        )
        return bool(cursor.fetchone()[0])


def race(rendezvous: Rendezvous, *writers: Callable[[], Any]) -> list[Any]:
    """Run the writers at once, each in its own thread and connection; their results in order."""
    results: list[Any] = [None] * len(writers)
    errors: list[BaseException] = []

    def run(index: int, writer: Callable[[], Any]) -> None:
        try:
            results[index] = writer()
        except BaseException as error:  # handed to the test thread
            errors.append(error)
        finally:
            rendezvous.finished()
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results


def refused(call: Callable[[], Any]) -> Callable[[], Any]:
    """A writer whose ServiceError is an answer, not a failure: ``race`` returns the error."""
    from crewcommand.errors import ServiceError

    def run() -> Any:
        try:
            return call()
        except ServiceError as error:
            return error

    return run
