"""QuickBooks: refunds as RefundReceipts and estimate deposits as unapplied payments applied to
the invoice later. The real python-quickbooks and intuit-oauth SDKs against the fake QuickBooks
(tests/fakes/quickbooks_server.py) over HTTP; nothing of the SDKs is mocked."""

from __future__ import annotations

import random
import re
from decimal import Decimal

import pytest

from billing import services
from billing.models import RefundKind
from billing.quickbooks import sync
from billing.quickbooks.models import RecordKind, SyncLog, SyncRecord, SyncStatus
from billing.quickbooks.services import tax_codes_refresh
from billing.quickbooks.tasks import sweep
from crewcommand.lib.activity import Actor
from documents import services as documents
from tests.billing.qbo import add_canadian_codes, connect
from tests.billing.test_manual_refunds_deposits import paid_by_card
from tests.factories import CustomerFactory, InvoiceFactory, PaymentFactory
from tests.fakes.base import Response, Route
from tests.fakes.quickbooks_server import ACCOUNT_CHEQUING, TAX_CODE_HST_ON

pytestmark = pytest.mark.django_db


@pytest.fixture
def qbo(owner_client, qbo_on):
    return connect(owner_client, qbo_on)


def push(kind: str, local_id: int, company_id: int) -> SyncRecord:
    record = sync.mark_pending(company_id=company_id, kind=kind, local_id=local_id)
    sync.push(record.pk)
    record.refresh_from_db()
    return record


def cents(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def refund_by_hand(payment, amount: str, kind: str = RefundKind.GOODWILL):
    return services.refund_create(
        payment=payment, amount=Decimal(amount), actor=Actor.system(), kind=kind
    )


# -- refunds ----------------------------------------------------------------------------------


def test_a_goodwill_refund_is_pushed_once_as_a_refund_receipt_with_its_tax(
    qbo, qbo_on, invoice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        payment = PaymentFactory(invoice=invoice, amount=invoice.total)
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_by_hand(payment, "200.00")
    record = SyncRecord.objects.get(kind=RecordKind.REFUND, local_id=refund.pk)
    assert record.status == SyncStatus.SYNCED, record.message
    receipts = qbo_on.entities(qbo.realm_id, "RefundReceipt")
    assert len(receipts) == 1
    receipt = receipts[0]
    assert receipt["Id"] == record.qbo_id and receipt["SyncToken"] == record.sync_token
    assert cents(receipt["TotalAmt"]) == Decimal("200.00")
    # HST ON at 13 %: 176.99 + 23.01, the tax code of the invoice's line.
    customer = SyncRecord.objects.get(kind=RecordKind.CUSTOMER)
    assert receipt["CustomerRef"]["value"] == customer.qbo_id
    assert receipt["DepositToAccountRef"]["value"] == ACCOUNT_CHEQUING
    sales = [line for line in receipt["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert [line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in sales] == [
        TAX_CODE_HST_ON
    ]
    assert cents(sales[0]["Amount"]) == Decimal("176.99")
    assert cents(receipt["TxnTaxDetail"]["TotalTax"]) == Decimal("23.01")
    assert refund.public_id in receipt["PrivateNote"]
    # Pushing it again does nothing; the customer's A/R balance is not touched by a refund.
    again = push(RecordKind.REFUND, refund.pk, refund.company_id)
    assert again.status == SyncStatus.SYNCED and again.sync_token == record.sync_token
    assert len(qbo_on.entities(qbo.realm_id, "RefundReceipt")) == 1
    assert SyncLog.objects.filter(record=record).exists()


def test_a_reversal_lowers_the_quickbooks_payment_so_the_invoice_owes_it_again(
    qbo, qbo_on, invoice, django_capture_on_commit_callbacks
):
    """A reversal: the money goes back and the invoice is owed again (no change to the sale).
    The QuickBooks payment is lowered to what still counts; no receipt, no income touched."""
    with django_capture_on_commit_callbacks(execute=True):
        payment = PaymentFactory(invoice=invoice, amount=invoice.total)
    with django_capture_on_commit_callbacks(execute=True):
        first = refund_by_hand(payment, "200.00", kind=RefundKind.REVERSAL)
    paid = SyncRecord.objects.get(kind=RecordKind.PAYMENT)
    record = SyncRecord.objects.get(kind=RecordKind.REFUND, local_id=first.pk)
    assert record.status == SyncStatus.SYNCED, record.message
    assert record.qbo_id == paid.qbo_id
    theirs = qbo_on.entity(qbo.realm_id, "Payment", paid.qbo_id)
    assert cents(theirs["TotalAmt"]) == Decimal("1156.00")
    assert [cents(line["Amount"]) for line in theirs["Line"]] == [Decimal("1156.00")]
    inv_record = SyncRecord.objects.get(kind=RecordKind.INVOICE)
    invoice.refresh_from_db()
    qbo_invoice = qbo_on.entity(qbo.realm_id, "Invoice", inv_record.qbo_id)
    assert cents(qbo_invoice["Balance"]) == invoice.balance == Decimal("200.00")
    assert qbo_on.entities(qbo.realm_id, "RefundReceipt") == []
    # Pushed again: the same target, nothing changes. A second reversal lowers it further.
    token = qbo_on.entity(qbo.realm_id, "Payment", paid.qbo_id)["SyncToken"]
    push(RecordKind.REFUND, first.pk, first.company_id)
    assert qbo_on.entity(qbo.realm_id, "Payment", paid.qbo_id)["SyncToken"] == token
    with django_capture_on_commit_callbacks(execute=True):
        refund_by_hand(payment, "100.00", kind=RefundKind.REVERSAL)
    invoice.refresh_from_db()
    qbo_invoice = qbo_on.entity(qbo.realm_id, "Invoice", inv_record.qbo_id)
    assert cents(qbo_invoice["Balance"]) == invoice.balance == Decimal("300.00")
    assert len(qbo_on.entities(qbo.realm_id, "Payment")) == 1


def test_a_repeated_call_after_a_lost_answer_makes_no_second_receipt(
    qbo, qbo_on, invoice, django_capture_on_commit_callbacks
):
    """The worker died after QuickBooks saved the receipt, before the id was stored: the push
    that follows sends the same ``requestid`` and gets QuickBooks' first answer back."""
    with django_capture_on_commit_callbacks(execute=True):
        payment = PaymentFactory(invoice=invoice, amount=invoice.total)
        refund = refund_by_hand(payment, "56.50")
    record = SyncRecord.objects.get(kind=RecordKind.REFUND)
    first = record.qbo_id
    SyncRecord.objects.filter(pk=record.pk).update(qbo_id="", sync_token="")
    again = push(RecordKind.REFUND, refund.pk, refund.company_id)
    assert again.status == SyncStatus.SYNCED and again.qbo_id == first
    assert len(qbo_on.entities(qbo.realm_id, "RefundReceipt")) == 1
    assert len(qbo_on.requests_to(f"/v3/company/{qbo.realm_id}/refundreceipt", "POST")) == 2


def test_a_card_refund_through_stripe_is_pushed_with_the_stripe_refund_id(
    qbo, qbo_on, invoice, connected, stripe_on, django_capture_on_commit_callbacks
):
    payment = paid_by_card(invoice, connected, stripe_on)
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_by_hand(payment, "100.00")
    refund.refresh_from_db()
    assert refund.stripe_refund_id
    record = SyncRecord.objects.get(kind=RecordKind.REFUND, local_id=refund.pk)
    assert record.status == SyncStatus.SYNCED, record.message
    receipt = qbo_on.entity(qbo.realm_id, "RefundReceipt", record.qbo_id)
    assert cents(receipt["TotalAmt"]) == Decimal("100.00")
    assert receipt["PaymentRefNum"] == refund.stripe_refund_id[:21]


def test_refund_receipts_equal_the_refunds_to_the_cent_across_provinces(qbo, qbo_on, company):
    add_canadian_codes(qbo_on, qbo.realm_id)
    tax_codes_refresh(company=company)
    rng = random.Random(1515)
    provinces = ["AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"]
    customer = CustomerFactory(company=company, name="Refunded client")
    wrong = []
    for n in range(60):
        province = rng.choice(provinces)
        parts = rng.choice(["all", "all", "federal", "provincial"])
        lines = [
            {
                "description": f"Line {n}",
                "quantity": rng.choice(["1", "2", "0.5", "1.25"]),
                "unit_price": f"{rng.randint(100, 250000) / 100:.2f}",
                "taxable": rng.random() > 0.2,
                "tax_parts": parts,
            }
            for _ in range(rng.randint(1, 3))
        ]
        invoice = InvoiceFactory(customer=customer, province=province, lines=lines)
        payment = PaymentFactory(invoice=invoice, amount=invoice.total)
        amount = Decimal(rng.randint(1, int(invoice.total * 100))) / 100
        refund = refund_by_hand(payment, str(amount))
        record = push(RecordKind.REFUND, refund.pk, company.pk)
        if record.status != SyncStatus.SYNCED:
            wrong.append((province, amount, record.message))
            continue
        receipt = qbo_on.entity(qbo.realm_id, "RefundReceipt", record.qbo_id)
        if cents(receipt["TotalAmt"]) != amount:
            wrong.append((province, amount, receipt["TotalAmt"]))
    assert wrong == []
    assert len(qbo_on.entities(qbo.realm_id, "RefundReceipt")) == 60


@pytest.mark.parametrize("status", [500, 429])
def test_a_refund_refused_for_a_moment_is_retried_with_backoff_and_pushed_once(
    qbo, qbo_on, invoice, status, django_capture_on_commit_callbacks
):
    failed = []

    def unavailable(request, match):
        failed.append(request.path)
        body = b'{"fault": {"error": [{"message": "Service unavailable"}]}}'
        return Response(status, body, {"Content-Type": "application/json"})

    with django_capture_on_commit_callbacks(execute=True):
        payment = PaymentFactory(invoice=invoice, amount=invoice.total)
    route = Route("POST", re.compile(r"/v3/company/[^/]+/refundreceipt"), unavailable)
    qbo_on._routes.insert(0, route)  # answered before the fake's own route
    try:
        with django_capture_on_commit_callbacks(execute=True):
            refund = refund_by_hand(payment, "300.00")
    finally:
        qbo_on._routes.remove(route)
    record = SyncRecord.objects.get(kind=RecordKind.REFUND)
    assert failed
    assert record.status == SyncStatus.ERROR and str(status) in record.message
    assert record.attempts == 1 and record.next_attempt_at > record.updated_at
    assert sync.due_record_ids() == []  # not before its time
    SyncRecord.objects.filter(pk=record.pk).update(next_attempt_at=record.created_at)
    assert sync.push(record.pk) == SyncStatus.SYNCED
    receipts = qbo_on.entities(qbo.realm_id, "RefundReceipt")
    assert len(receipts) == 1 and cents(receipts[0]["TotalAmt"]) == refund.amount


# -- deposits ---------------------------------------------------------------------------------


def test_a_deposit_is_a_credit_in_quickbooks_then_applied_to_the_invoice_made_from_the_estimate(
    qbo, qbo_on, signed_estimate, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deposit = PaymentFactory(estimate=signed_estimate, amount="565.00")
    record = SyncRecord.objects.get(kind=RecordKind.PAYMENT, local_id=deposit.pk)
    assert record.status == SyncStatus.SYNCED, record.message
    theirs = qbo_on.entity(qbo.realm_id, "Payment", record.qbo_id)
    assert theirs["Line"] == [] and cents(theirs["UnappliedAmt"]) == Decimal("565.00")
    customer = SyncRecord.objects.get(kind=RecordKind.CUSTOMER)
    qbo_customer = qbo_on.entity(qbo.realm_id, "Customer", customer.qbo_id)
    assert cents(qbo_customer["Balance"]) == Decimal("-565.00")  # a credit on their account
    assert record.applied_to == ""

    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    with django_capture_on_commit_callbacks(execute=True):
        documents.invoice_send(invoice=invoice, actor=Actor.system())
        sweep()  # beat: the sent invoice is pushed, then the deposit is applied to it
    invoice.refresh_from_db()
    inv_record = SyncRecord.objects.get(kind=RecordKind.INVOICE)
    assert inv_record.status == SyncStatus.SYNCED, inv_record.message
    record.refresh_from_db()
    assert record.status == SyncStatus.SYNCED and record.applied_to == inv_record.qbo_id
    theirs = qbo_on.entity(qbo.realm_id, "Payment", record.qbo_id)
    assert [line["LinkedTxn"] for line in theirs["Line"]] == [
        [{"TxnId": inv_record.qbo_id, "TxnType": "Invoice"}]
    ]
    assert cents(theirs["UnappliedAmt"]) == 0 and theirs["SyncToken"] == record.sync_token
    qbo_invoice = qbo_on.entity(qbo.realm_id, "Invoice", inv_record.qbo_id)
    assert cents(qbo_invoice["TotalAmt"]) == invoice.total
    assert cents(qbo_invoice["Balance"]) == invoice.balance == invoice.total - Decimal("565.00")
    # Applied once: pushing it again changes nothing, and only one Payment exists.
    again = push(RecordKind.PAYMENT, deposit.pk, deposit.company_id)
    assert again.sync_token == record.sync_token
    assert len(qbo_on.entities(qbo.realm_id, "Payment")) == 1
    # Part of the deposit given back (a reversal): the credit on the invoice drops on both sides.
    with django_capture_on_commit_callbacks(execute=True):
        refund_by_hand(deposit, "65.00", kind=RefundKind.REVERSAL)
    invoice.refresh_from_db()
    assert invoice.deposit_credit == Decimal("500.00")
    qbo_invoice = qbo_on.entity(qbo.realm_id, "Invoice", inv_record.qbo_id)
    assert cents(qbo_invoice["Balance"]) == invoice.balance


def test_the_balance_paid_after_the_deposit_leaves_both_sides_at_zero(
    qbo, qbo_on, signed_estimate, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        PaymentFactory(estimate=signed_estimate, amount="565.00")
    invoice = services.estimate_convert(estimate=signed_estimate, actor=Actor.system())
    with django_capture_on_commit_callbacks(execute=True):
        documents.invoice_send(invoice=invoice, actor=Actor.system())
    invoice.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        PaymentFactory(invoice=invoice, amount=str(invoice.balance))
    invoice.refresh_from_db()
    assert invoice.balance == 0
    inv_record = SyncRecord.objects.get(kind=RecordKind.INVOICE)
    assert SyncRecord.objects.filter(status=SyncStatus.SYNCED).count() == 4, list(
        SyncRecord.objects.values_list("kind", "status", "message")
    )
    qbo_invoice = qbo_on.entity(qbo.realm_id, "Invoice", inv_record.qbo_id)
    assert cents(qbo_invoice["Balance"]) == 0
    customer = SyncRecord.objects.get(kind=RecordKind.CUSTOMER)
    assert cents(qbo_on.entity(qbo.realm_id, "Customer", customer.qbo_id)["Balance"]) == 0


def test_a_payment_changed_in_quickbooks_during_a_reversal_is_read_again_not_overwritten(
    qbo, qbo_on, invoice, django_capture_on_commit_callbacks
):
    """The reversal's body is built from the Payment as read (all its lines). A stale SyncToken
    means someone changed it meanwhile: the push is retried later from a fresh read instead of
    resending lines that would undo their change."""
    with django_capture_on_commit_callbacks(execute=True):
        payment = PaymentFactory(invoice=invoice, amount=invoice.total)
    paid = SyncRecord.objects.get(kind=RecordKind.PAYMENT)
    stale = []

    def edited_meanwhile(request, match):
        stale.append(request.path)
        qbo_on._routes.remove(route)  # once
        body = (
            b'{"Fault": {"Error": [{"Message": "Stale Object Error", "Detail": "Stale Object '
            b'Error : You and another user were working on the same thing.", "code": "5010"}], '
            b'"type": "ValidationFault"}}'
        )
        return Response(400, body, {"Content-Type": "application/json"})

    route = Route("POST", re.compile(r"/v3/company/[^/]+/payment"), edited_meanwhile)
    qbo_on._routes.insert(0, route)
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_by_hand(payment, "100.00", kind=RefundKind.REVERSAL)
    record = SyncRecord.objects.get(kind=RecordKind.REFUND)
    assert stale and record.status == SyncStatus.ERROR and record.next_attempt_at is not None
    assert "read again" in record.message
    SyncRecord.objects.filter(pk=record.pk).update(next_attempt_at=record.created_at)
    assert sync.push(record.pk) == SyncStatus.SYNCED
    theirs = qbo_on.entity(qbo.realm_id, "Payment", paid.qbo_id)
    assert cents(theirs["TotalAmt"]) == invoice.total - refund.amount
