"""Core background tasks. Thin: take ids, call one function."""

from __future__ import annotations

from celery import shared_task

from crewcommand import notifications


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_invitation_email(*, invitation_id: int) -> None:
    notifications.deliver_invitation(invitation_id=invitation_id)
