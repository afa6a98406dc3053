"""Reads of the automations pages, scoped to a company, constant queries per page."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from automations.models import Automation, AutomationRun
from crewcommand.models import Company, Customer


def automation_list(*, company: Company) -> QuerySet[Automation]:
    """The company's automations, each with its last run's outcome and reason (one query)."""
    last = AutomationRun.objects.filter(automation=OuterRef("pk")).order_by("-created_at", "-id")
    return Automation.objects.filter(company=company).annotate(
        last_outcome=Subquery(last.values("outcome")[:1]),
        last_reason=Subquery(last.values("reason")[:1]),
    )


def automation_get(*, company: Company, public_id: str) -> Automation:
    return get_object_or_404(Automation, company=company, public_id=public_id)


def recent_runs(*, automation: Automation, limit: int = 10) -> list[AutomationRun]:
    return list(AutomationRun.objects.filter(automation=automation)[:limit])


def preview_customers(*, company: Company, limit: int = 50) -> list[Customer]:
    """Customers to preview a template for: the most recent ones."""
    return list(
        Customer.objects.filter(company=company)
        .order_by("-created_at")
        .only("public_id", "name")[:limit]
    )


def preview_customer(*, company: Company, public_id: str | None) -> Customer | None:
    """The chosen customer (another company's id: none), or the most recent one."""
    qs = Customer.objects.filter(company=company)
    if public_id:
        chosen = qs.filter(public_id=public_id).first()
        if chosen is not None:
            return chosen
    return qs.order_by("-created_at").first()
