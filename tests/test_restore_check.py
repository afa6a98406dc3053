"""The backup is restorable and the restore check can tell a whole restore from a damaged one:
``bench/restore_check.py`` at small scale (one customer besides the demo data), against this
machine's PostgreSQL, in databases of its own next to ``DATABASE_URL``'s."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "restore_check.py"


def run(*args: str) -> subprocess.CompletedProcess:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        pytest.skip("needs DATABASE_URL to PostgreSQL")
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--customers", "1", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_dump_restored_into_a_fresh_database_is_whole():
    result = run()
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "0 differ (rows" in out
    assert "signatures: 1 re-verified, 0 failed" in out
    assert "0 differ from the stored cents" in out
    assert "links: 5 portal links opened (their pages, 4 PDFs), 1 review links, 0 failed" in out
    assert "RESTORE CHECK PASSED" in out


def test_the_check_fails_on_a_changed_signature_total_or_lost_link():
    result = run("--tamper")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "3 differ (rows" in out
    assert "signatures: 1 re-verified, 1 failed" in out
    assert "1 differ from the stored cents" in out
    assert "1 review links, 1 failed" in out
    assert "RESTORE CHECK FAILED" in out
