"""Objects for the tenancy walk (tests/core/test_tenancy.py): an outbox message."""

from __future__ import annotations

from crewcommand.messaging import queue
from tests.urlwalk import EXTENSIONS


def _messaging_for_tenancy(owner, customer, job):
    message = queue(
        company=owner.company,
        channel="email",
        to="someone@example.com",
        subject="Hello",
        body="Hello",
        customer=customer,
    )
    return {"message_id": message.public_id}


EXTENSIONS.append(_messaging_for_tenancy)
