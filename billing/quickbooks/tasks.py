"""QuickBooks background tasks. Thin: take ids, call one function in ``sync``."""

from __future__ import annotations

import logging

from celery import shared_task

from billing.quickbooks import sync
from billing.quickbooks.client import QuickBooksError
from billing.quickbooks.models import ConnectionStatus, QuickBooksConnection

logger = logging.getLogger(__name__)


@shared_task
def push_record(*, record_id: int) -> str | None:
    return sync.push(record_id)


@shared_task
def sweep() -> dict[str, int]:
    """Queue sent invoices and synced customers that changed, then push what is due."""
    queued = sync.queue_changed_invoices() + sync.queue_changed_customers()
    due = sync.due_record_ids()
    for record_id in due:
        push_record.delay(record_id=record_id)
    return {"queued": queued, "due": len(due)}


@shared_task
def pull_payments() -> int:
    recorded = 0
    for connection in QuickBooksConnection.objects.filter(status=ConnectionStatus.CONNECTED):
        try:
            recorded += sync.pull_payments(connection)
        except QuickBooksError as error:
            logger.warning(
                "QuickBooks pull for company %s failed: %s", connection.company_id, error.message
            )
    return recorded


@shared_task
def pull_company(*, connection_id: int) -> int:
    """One company's pull, as a webhook asks for it."""
    connection = QuickBooksConnection.objects.filter(
        pk=connection_id, status=ConnectionStatus.CONNECTED
    ).first()
    if connection is None:
        return 0
    try:
        return sync.pull_payments(connection)
    except QuickBooksError as error:
        logger.warning(
            "QuickBooks pull for company %s failed: %s", connection.company_id, error.message
        )
        return 0
