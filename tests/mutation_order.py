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


# --- One test database per running mutant ------------------------------------------------------
# With ``--max-children 2`` mutmut runs two mutants at once from one work directory, and both
# would use the module's one test database: a transactional test of one mutant empties the
# tables under the other's test (or commits rows it counts), which fails it, and mutmut counts
# that failure as a kill. Seen in the seventh session: mutants listed as equivalent, passing
# every test by hand, reported killed in by-name runs at two children and surviving at one.
# Each running mutant therefore takes the first free slot (a lock held until its process
# exits) and the slot's own test database, kept between mutants like the module's.
_SLOT_FILES: list = []


def _mutation_slot() -> int:
    import fcntl

    for slot in range(32):
        handle = open(f"mutmut-slot-{slot}.lock", "w")  # noqa: SIM115 (held until exit)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _SLOT_FILES.append(handle)
        return slot
    raise RuntimeError("no free mutation slot")


def mutation_db_suffix() -> None:
    """Under a mutant (``MUTANT_UNDER_TEST``) only: this process's slot's test database
    (called by ``django_db_modify_db_settings`` in tests/conftest.py)."""
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", ""):
        return
    from pytest_django.fixtures import _set_suffix_to_test_databases

    _set_suffix_to_test_databases(suffix=f"slot{_mutation_slot()}")
