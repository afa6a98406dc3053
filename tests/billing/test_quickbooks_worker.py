"""End to end with a real Celery worker: an invoice paid in CrewCommand reaches the fake
QuickBooks (customer, invoice, payment) through tasks enqueued after commit. The session's
worker is started aimed at the fake QuickBooks (tests/worker.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.quickbooks.models import RecordKind, SyncRecord, SyncStatus
from billing.quickbooks.tasks import sweep
from tests.billing.qbo import connect
from tests.factories import InvoiceFactory, PaymentFactory
from tests.worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_paid_invoice_reaches_quickbooks_through_a_real_worker(
    celery_worker_process, qbo_on, client, owner, customer
):
    client.force_login(owner.user)
    conn = connect(client, qbo_on)
    invoice = InvoiceFactory(customer=customer)
    sweep()  # beat's task: queues the sent invoice and hands it to the worker
    wait_for(
        lambda: SyncRecord.objects.filter(
            kind=RecordKind.INVOICE, status=SyncStatus.SYNCED
        ).exists(),
        timeout=30,
    )
    PaymentFactory(invoice=invoice, amount=invoice.total)  # the hook enqueues after commit

    def payment_synced():
        return SyncRecord.objects.filter(kind=RecordKind.PAYMENT, status=SyncStatus.SYNCED).first()

    record = wait_for(payment_synced, timeout=30)
    realm = conn.realm_id
    qbo_invoice = qbo_on.entities(realm, "Invoice")
    assert len(qbo_invoice) == 1
    assert Decimal(str(qbo_invoice[0]["TotalAmt"])) == invoice.total
    assert Decimal(str(qbo_invoice[0]["Balance"])) == 0
    assert qbo_on.entity(realm, "Payment", record.qbo_id)["TotalAmt"] == float(invoice.total) or (
        Decimal(str(qbo_on.entity(realm, "Payment", record.qbo_id)["TotalAmt"])) == invoice.total
    )
    assert [c["DisplayName"] for c in qbo_on.entities(realm, "Customer")] == [customer.name]
