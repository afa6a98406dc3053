"""Review background tasks. Thin: ids and JSON values in, one function called.

The landing page and the click-through are GETs, which never write: the landing page counts
its openings in the cache and schedules one flush per burst (``reviews.openings``), the
click-through hands the click to a task after commit, and the worker writes them."""

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
def flush_review_opens(*, request_id: int) -> None:
    """Write a review request's openings gathered in the cache (``reviews.openings``)."""
    from reviews import openings

    openings.flush(request_id=request_id)


@shared_task(ignore_result=True)
def record_review_click(*, request_id: int, at: str) -> None:
    when = parse_datetime(at)
    if when is not None:
        services.review_record_click(request_id=request_id, at=when)
