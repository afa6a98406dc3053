"""Objects for the dashboard tenancy walk (tests/core/test_tenancy.py): every portal dashboard
URL kwarg, owned by company A."""

from __future__ import annotations

from crewcommand.models import Contact
from tests.factories import EstimateFactory
from tests.portal.helpers import issue, sign
from tests.urlwalk import EXTENSIONS


def _portal_objects(owner, customer, job) -> dict:
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    signature = sign(estimate, issued)
    return {
        "kind": "estimate",
        "doc_id": estimate.public_id,
        "link_id": issued.link.public_id,
        "signature_id": signature.public_id,
        # The customer page's contacts panel (core URLs, kept here beside the links they own).
        "contact_id": Contact.objects.create(
            company=customer.company,
            customer=customer,
            name="Ben Tremblay",
            email="ben@example.com",
            role="spouse",
        ).public_id,
    }


EXTENSIONS.append(_portal_objects)
