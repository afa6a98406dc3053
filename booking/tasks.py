"""Booking's background tasks. Thin: take ids, call one function."""

from __future__ import annotations

from celery import shared_task

from booking import notifications


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_request_emails(*, request_id: int) -> None:
    notifications.deliver_request_emails(request_id=request_id)
