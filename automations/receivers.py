"""Signal receivers (connected in ``AutomationsConfig.ready()``)."""

from __future__ import annotations

from typing import Any

from crewcommand.models import Company


def company_created(sender: type, instance: Company, created: bool, raw: bool = False, **kw: Any):
    """Give a new company the default automations, in the transaction that creates it."""
    from automations import services

    if created and not raw:
        services.defaults_create(company=instance)
