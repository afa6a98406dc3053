"""Core background tasks. Thin: take ids, call one function."""

from __future__ import annotations

from celery import shared_task

from crewcommand import notifications


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_signup_email(*, email: str, company_name: str, province: str, full_name: str) -> None:
    notifications.deliver_signup(
        email=email, company_name=company_name, province=province, full_name=full_name
    )


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_password_reset_email(*, email: str) -> None:
    notifications.deliver_password_reset(email=email)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_invitation_email(*, invitation_id: int) -> None:
    notifications.deliver_invitation(invitation_id=invitation_id)


@shared_task(acks_late=True)
def send_message(*, message_id: int) -> str:
    """Send one outbox row (claimed with a conditional UPDATE; see crewcommand.messaging)."""
    from crewcommand.messaging import outbox

    return outbox.send(message_id)


@shared_task
def requeue_messages() -> int:
    """Beat: re-enqueue outbox rows that never left (broker down, worker killed)."""
    from crewcommand.messaging import outbox

    return outbox.requeue_due()
