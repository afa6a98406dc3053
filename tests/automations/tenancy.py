"""Objects for the tenancy walk (tests/core/test_tenancy.py): one of the company's automations
(every company gets the defaults)."""

from __future__ import annotations

from automations.models import Automation
from tests.urlwalk import EXTENSIONS


def _automation_for_tenancy(owner, customer, job):
    automation = Automation.objects.filter(company=owner.company).order_by("pk").first()
    return {"automation_id": automation.public_id}


EXTENSIONS.append(_automation_for_tenancy)
