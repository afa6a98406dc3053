from __future__ import annotations

from decimal import Decimal

import pytest

from crewcommand.lib.activity import Actor
from documents import services

LINE = {
    "description": "Labour",
    "quantity": Decimal("2"),
    "unit_price": Decimal("95.00"),
    "taxable": True,
    "kind": "standard",
    "group": "",
    "selected_by_default": True,
}


@pytest.fixture
def actor(owner):
    return Actor.member(owner.user)


@pytest.fixture
def estimate(owner, customer, job, actor):
    return services.estimate_create(company=owner.company, customer=customer, job=job, actor=actor)


@pytest.fixture
def invoice(owner, customer, actor):
    return services.invoice_create(company=owner.company, customer=customer, actor=actor)


def add_line(doc, actor, **fields):
    return services.line_save(doc=doc, actor=actor, fields={**LINE, **fields})
