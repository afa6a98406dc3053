"""Objects for the tenancy walk (tests/core/test_tenancy.py)."""

from __future__ import annotations

from crewcommand.lib.activity import Actor
from documents import services
from tests.factories import LineItemFactory
from tests.urlwalk import EXTENSIONS


def _documents_for_tenancy(owner, customer, job):
    actor = Actor.member(owner.user)
    estimate = services.estimate_create(
        company=owner.company, customer=customer, job=job, actor=actor
    )
    line = LineItemFactory(doc=estimate, actor=actor)
    invoice = services.invoice_create(company=owner.company, customer=customer, actor=actor)
    invoice_line = LineItemFactory(doc=invoice, actor=actor)
    per_route = {
        f"documents:invoice_line_{name}": {"line_id": invoice_line.public_id}
        for name in ("edit", "delete", "move")
    }
    return {
        **per_route,
        "estimate_id": estimate.public_id,
        "invoice_id": invoice.public_id,
        "line_id": line.public_id,
        "revision": 1,
        "action": "duplicate",
    }


EXTENSIONS.append(_documents_for_tenancy)
