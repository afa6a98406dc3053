"""Celery tasks of the automations app (thin)."""

from __future__ import annotations

from celery import shared_task

from automations import services


@shared_task(ignore_result=True)
def scan_due() -> int:
    """Beat: fire the time triggers that are due (follow-ups, overdue invoices, job reminders)."""
    return services.scan_due()
