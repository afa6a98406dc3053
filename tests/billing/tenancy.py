"""Objects for the tenancy walk (tests/core/test_tenancy.py): a payment and a payment issue.
Invoice and estimate ids come from tests/documents/tenancy.py."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from billing import services
from billing.models import (
    IssueKind,
    Payment,
    PaymentIssue,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
)
from billing.quickbooks.models import RecordKind, SyncRecord, SyncStatus
from crewcommand.lib.activity import Actor
from tests.factories import InvoiceFactory
from tests.urlwalk import EXTENSIONS


def _billing_for_tenancy(owner, customer, job):
    invoice = InvoiceFactory(customer=customer, job=job)
    payment = services.payment_record(
        actor=Actor.member(owner.user),
        invoice=invoice,
        amount=Decimal("10.00"),
        method=PaymentMethod.CASH,
        received_on=timezone.localdate(),
    )
    card = Payment.objects.create(
        company=owner.company,
        customer=customer,
        invoice=invoice,
        purpose=PaymentPurpose.INVOICE,
        method=PaymentMethod.CARD,
        status=PaymentStatus.SUCCEEDED,
        amount=Decimal("5.00"),
    )
    issue = PaymentIssue.objects.create(
        company=owner.company, payment=card, kind=IssueKind.OVERPAID
    )
    # A QuickBooks sync record with an ambiguous customer match (resync and resolve pages).
    record = SyncRecord.objects.create(
        company=owner.company,
        kind=RecordKind.CUSTOMER,
        local_id=customer.pk,
        label=customer.name,
        status=SyncStatus.ATTENTION,
        candidates=[{"id": "1", "name": customer.name, "email": ""}],
    )
    return {
        "payment_id": payment.public_id,
        "issue_id": issue.public_id,
        "record_id": record.public_id,
    }


EXTENSIONS.append(_billing_for_tenancy)
