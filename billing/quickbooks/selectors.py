"""Reads for the QuickBooks pages: company-scoped, a constant number of queries."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from billing.quickbooks.models import (
    QuickBooksConnection,
    SyncLog,
    SyncRecord,
    SyncStatus,
    TaxMapping,
)
from crewcommand.models import Company


def connection_for(*, company: Company) -> QuickBooksConnection | None:
    return QuickBooksConnection.objects.filter(company=company).first()


def status_counts(*, company: Company) -> dict[str, int]:
    rows = SyncRecord.objects.filter(company=company).values("status").annotate(n=Count("id"))
    counts = {status: 0 for status in SyncStatus.values}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def records(*, company: Company, status: str | None = None) -> QuerySet[SyncRecord]:
    rows = SyncRecord.objects.filter(company=company)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-updated_at", "-id")


def needing_attention(*, company: Company) -> QuerySet[SyncRecord]:
    return records(company=company).filter(status__in=[SyncStatus.ATTENTION, SyncStatus.ERROR])[:50]


def log_entries(*, company: Company) -> QuerySet[SyncLog]:
    return SyncLog.objects.filter(company=company).order_by("-at", "-id")


def tax_choices(*, company: Company) -> dict[str, str]:
    return dict(TaxMapping.objects.filter(company=company).values_list("tax_key", "tax_code_id"))


def record_for(*, company: Company, kind: str, local_id: int) -> SyncRecord | None:
    return SyncRecord.objects.filter(company=company, kind=kind, local_id=local_id).first()
