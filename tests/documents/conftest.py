from __future__ import annotations

import pytest

from crewcommand.lib.activity import Actor
from tests.factories import EstimateFactory, InvoiceFactory


@pytest.fixture
def actor(owner):
    return Actor.member(owner.user)


@pytest.fixture
def draft_estimate(customer, job, actor):
    """An empty draft estimate on the job, just made by the owner (``estimate_create``)."""
    return EstimateFactory(
        customer=customer, job=job, actor=actor, revision={}, lines=(), sent=False
    )


@pytest.fixture
def draft_invoice(customer, actor):
    """An empty draft invoice, just made by the owner (``invoice_create``)."""
    return InvoiceFactory(customer=customer, actor=actor, lines=(), sent=False)
