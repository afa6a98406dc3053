"""Review background tasks. Thin: ids and JSON values in, one function called.

The landing page and the click-through are GETs, which never write: they hand the opening and
the click to these tasks (after commit), and the worker writes them."""

from __future__ import annotations

from celery import shared_task
from django.utils.dateparse import parse_datetime

from reviews import notifications, services


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_review_request_email(*, request_id: int) -> None:
    notifications.deliver_request_email(request_id=request_id)


@shared_task(ignore_result=True)
def record_review_open(*, request_id: int, at: str) -> None:
    when = parse_datetime(at)
    if when is not None:
        services.review_record_open(request_id=request_id, at=when)


@shared_task(ignore_result=True)
def record_review_click(*, request_id: int, at: str) -> None:
    when = parse_datetime(at)
    if when is not None:
        services.review_record_click(request_id=request_id, at=when)
