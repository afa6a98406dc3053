"""Celery worker processes forked from one process that has already imported the project.

``python -m celery -A crewcommand worker`` spends seconds before it takes a task: starting
Python, importing Django, the project and Celery, and running Django's system checks. The kill
tests (tests/messaging/test_worker.py) start 21 workers each, one after another, so most of
their time went there. Here one process (started per test, with that test's environment) does
the imports, the system checks and the PDF renderer's warm-up once, then forks each worker on request; the child runs
Celery's own command line (``celery -A crewcommand worker ...``), so every worker is a real
worker process with the configuration ``python -m celery`` would give it, killed with a real
SIGKILL. Nothing is connected before the fork (no database, cache or broker connection).

``ForkServer.spawn`` returns a ``ForkedWorker`` with the parts of ``subprocess.Popen`` the tests
use (``pid``, ``poll``, ``wait``, ``terminate``, ``kill``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent


class ForkedWorker:
    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.request(op="poll", pid=self.pid)["status"]
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            status = self.server.request(op="wait", pid=self.pid, timeout=timeout)["status"]
            if status is None:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
            self.returncode = status
        return self.returncode

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, number: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # already reaped by the server
                os.kill(self.pid, number)


class ForkServer:
    """The parent of the forked workers; a context manager that stops them all at exit."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.worker_fork"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        self.request(op="ready")  # the imports and checks are done

    def request(self, **message: Any) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(
                "the worker fork server stopped:\n"
                + self.log_path.read_text(errors="replace")[-3000:]
            )
        return json.loads(line)

    def spawn(self, argv: list[str], log_path: Path) -> ForkedWorker:
        """Fork a worker running ``celery <argv>`` with its output appended to ``log_path``."""
        pid = self.request(op="spawn", argv=argv, log=str(log_path))["pid"]
        return ForkedWorker(self, pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin
            self.proc.stdin.close()  # the server kills and reaps what is left, then exits
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- The server process --------------------------------------------------------------------------


def _status(raw: int) -> int:
    """``waitpid``'s status as ``Popen.returncode`` gives it (minus the signal number)."""
    return os.waitstatus_to_exitcode(raw)


def _child(argv: list[str], log: str) -> None:
    code = 1
    try:
        out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.close(null)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        from celery.bin.celery import main

        sys.argv = ["celery", *argv]
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _serve(commands: IO[str], answers: IO[str]) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewcommand.settings")
    django.setup()
    from django.core.checks import run_checks

    from crewcommand.celery import app

    # What the worker's start does before it takes a task, done once here: the task modules
    # and Django's system checks (the children skip them: CELERY_SKIP_CHECKS).
    app.loader.import_default_modules()
    problems = [m for m in run_checks() if m.is_serious()]
    if problems:
        raise SystemExit("\n".join(str(m) for m in problems))
    os.environ["CELERY_SKIP_CHECKS"] = "1"
    # And what it does when its pool starts (``worker_process_init``, documents/apps.py):
    # WeasyPrint imported, its fonts loaded, the stylesheet parsed. The child warms again,
    # finding all of it done (1.6 s of each start before).
    from documents import pdf

    pdf.warm_renderer()
    children: set[int] = set()
    reaped: dict[int, int] = {}

    def reap(pid: int, block: bool, timeout: float | None = None) -> int | None:
        if pid in reaped:
            return reaped[pid]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            done, raw = os.waitpid(pid, 0 if block and deadline is None else os.WNOHANG)
            if done:
                children.discard(pid)
                reaped[pid] = _status(raw)
                return reaped[pid]
            if not block or (deadline is not None and time.monotonic() >= deadline):
                return None
            time.sleep(0.01)

    for line in commands:
        message = json.loads(line)
        op = message["op"]
        if op == "ready":
            answer: dict[str, Any] = {}
        elif op == "spawn":
            pid = os.fork()
            if pid == 0:
                _child(message["argv"], message["log"])
            children.add(pid)
            answer = {"pid": pid}
        elif op == "poll":
            answer = {"status": reap(message["pid"], block=False)}
        elif op == "wait":
            answer = {"status": reap(message["pid"], block=True, timeout=message["timeout"])}
        else:
            answer = {"error": f"unknown op {op!r}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    for pid in list(children):  # the test is over: nothing outlives it
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        reap(pid, block=True)


if __name__ == "__main__":
    _serve(sys.stdin, sys.stdout)
