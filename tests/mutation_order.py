"""Under mutation testing only: run a mutant's tests fastest first.

mutmut runs the tests that reach a mutated function with ``-x``, in no particular order (a set).
Most mutants are killed by their first failing test, so running the cheapest tests first (by
the durations mutmut recorded in its ``mutmut-stats.json``) makes a killed mutant cost its
fastest failing test rather than, say, the 1,000-invoice Stripe test first. Survivors still run
every test. pytest-django then groups the tests as Django does (plain, then transactional), with
a stable sort, so this order holds inside each group. Outside a mutant run nothing changes.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest


@cache
def _durations() -> dict[str, float]:
    try:
        stats = json.loads(Path("mutmut-stats.json").read_text())
    except (OSError, ValueError):
        return {}
    return dict(stats.get("duration_by_test", {}))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", ""):
        return
    durations = _durations()
    if durations:
        items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))
