"""Shared fixtures: personas, the fake provider servers, browsers and a real Celery worker."""

from __future__ import annotations

import os
import shutil

import pytest
from django.test import Client

from crewcommand.models import Role
from tests.factories import (
    CompanyFactory,
    CustomerFactory,
    EstimateFactory,
    InvoiceFactory,
    JobFactory,
    MemberFactory,
)

pytest_plugins = ["tests.fakes.fixtures", "tests.browser", "tests.worker", "tests.mutation_order"]

# Playwright's sync API runs an event loop in the test thread; Django must allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config, items):
    """Outside CI, skip what this machine cannot run; in CI, never skip silently."""
    from django.db import connection

    reasons = {}
    if connection.vendor != "postgresql":
        reasons["postgres"] = "needs PostgreSQL (set DATABASE_URL)"
    if not os.environ.get("REDIS_URL"):
        reasons["worker"] = "needs Redis (set REDIS_URL)"
    if not shutil.which("chromium") and not os.path.exists("/usr/bin/chromium"):
        reasons["browser"] = "needs Chromium at /usr/bin/chromium"
    for item in items:
        for marker, reason in reasons.items():
            if marker in item.keywords:
                if IN_CI:
                    raise pytest.UsageError(f"CI must run {item.nodeid}: {reason}")
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from crewcommand.lib import pagecache, recent

    cache.clear()
    pagecache.forget_local()
    recent.forget_all()
    yield


@pytest.fixture
def company(db):
    return CompanyFactory(name="Maple Plumbing", slug="maple", province="ON")


@pytest.fixture
def owner(company):
    return MemberFactory(company=company, role=Role.OWNER, user__first_name="Olivia")


@pytest.fixture
def office(company):
    return MemberFactory(company=company, role=Role.OFFICE)


@pytest.fixture
def outsider(db):
    """Owner of another company: must never see the first company's rows."""
    return MemberFactory(company=CompanyFactory(name="Rival Heating", slug="rival"))


@pytest.fixture
def customer(company):
    return CustomerFactory(company=company, name="Alice Tremblay")


@pytest.fixture
def job(customer):
    return JobFactory(customer=customer, title="Replace water heater")


@pytest.fixture
def estimate(customer):
    """A sent estimate: packages, options, terms, notes and a 25 % deposit (EstimateFactory)."""
    return EstimateFactory(customer=customer)


@pytest.fixture
def invoice(customer, job):
    """A sent invoice on the job: one taxable $1,200.00 line, $1,356.00 in Ontario."""
    return InvoiceFactory(customer=customer, job=job)


def _client_for(member) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


@pytest.fixture
def owner_client(owner):
    return _client_for(owner)


@pytest.fixture
def office_client(office):
    return _client_for(office)


@pytest.fixture
def outsider_client(outsider):
    return _client_for(outsider)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """pytest-django's own (the xdist worker's suffix), and under mutation testing one test
    database per running mutant (tests/mutation_order.py)."""
    from tests.mutation_order import mutation_db_suffix

    mutation_db_suffix()
