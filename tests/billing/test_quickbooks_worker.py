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


def test_a_deposit_and_a_refund_reach_quickbooks_through_a_real_worker(
    celery_worker_process, qbo_on, client, owner, customer, job
):
    """A deposit paid on an estimate goes as a credit, is applied when the invoice made from
    the estimate is synced, and a goodwill refund becomes a RefundReceipt: all through tasks
    the real worker runs."""
    from billing import services
    from billing.models import RefundKind
    from crewcommand.lib.activity import Actor
    from documents import services as documents
    from tests.billing.conftest import deposit, roof
    from tests.factories import SignedEstimateFactory

    client.force_login(owner.user)
    conn = connect(client, qbo_on)
    estimate = SignedEstimateFactory(customer=customer, job=job, lines=roof(), revision=deposit())
    paid = PaymentFactory(estimate=estimate, amount="565.00")  # the hook enqueues after commit

    def deposit_record():
        return SyncRecord.objects.filter(
            kind=RecordKind.PAYMENT, local_id=paid.pk, status=SyncStatus.SYNCED
        ).first()

    record = wait_for(deposit_record, timeout=30)
    assert Decimal(str(qbo_on.entity(conn.realm_id, "Payment", record.qbo_id)["UnappliedAmt"])) == (
        Decimal("565.00")
    )
    invoice = services.estimate_convert(estimate=estimate, actor=Actor.system())
    documents.invoice_send(invoice=invoice, actor=Actor.system())
    sweep()  # beat: the invoice is pushed, then the deposit applied to it

    def applied():
        found = deposit_record()
        return found if found is not None and found.applied_to else None

    record = wait_for(applied, timeout=30)
    invoice.refresh_from_db()
    qbo_invoice = qbo_on.entity(conn.realm_id, "Invoice", record.applied_to)
    assert Decimal(str(qbo_invoice["Balance"])) == invoice.balance
    refund = services.refund_create(
        payment=paid, amount=Decimal("56.50"), actor=Actor.system(), kind=RefundKind.GOODWILL
    )

    def refund_synced():
        return SyncRecord.objects.filter(
            kind=RecordKind.REFUND, local_id=refund.pk, status=SyncStatus.SYNCED
        ).first()

    refund_record = wait_for(refund_synced, timeout=30)
    receipt = qbo_on.entity(conn.realm_id, "RefundReceipt", refund_record.qbo_id)
    assert Decimal(str(receipt["TotalAmt"])) == Decimal("56.50")
    assert len(qbo_on.entities(conn.realm_id, "RefundReceipt")) == 1
