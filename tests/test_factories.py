"""The factories build documents and payments through the app's services: the stored totals are
the ones documents.totals computes, numbers and statuses follow the app's rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crewcommand.models import Activity
from documents.models import EstimateStatus, InvoiceStatus
from documents.totals import revision_totals
from portal.models import Signature
from tests.factories import (
    EstimateFactory,
    EstimateRevisionFactory,
    InvoiceFactory,
    LineItemFactory,
    PaymentFactory,
    SignedEstimateFactory,
)

pytestmark = pytest.mark.django_db


def test_an_estimate_is_made_filled_and_sent_by_the_services(customer):
    estimate = EstimateFactory(customer=customer)
    revision = estimate.current_revision
    assert estimate.status == EstimateStatus.SENT and revision.sent_at is not None
    assert revision.total == revision_totals(revision).total == Decimal("2457.75")
    verbs = set(Activity.objects.filter(target_id=estimate.pk).values_list("verb", flat=True))
    assert {"estimate.created", "estimate.updated", "estimate.sent"} <= verbs


def test_a_draft_is_left_as_estimate_create_made_it(customer):
    draft = EstimateFactory(customer=customer, sent=False, revision={}, lines=())
    assert draft.status == EstimateStatus.DRAFT and draft.current_revision.total == 0
    second = EstimateFactory(customer=customer, sent=False, revision={}, lines=())
    assert second.number == draft.number + 1


def test_a_new_revision_copies_the_sent_one_and_takes_the_changes(customer):
    estimate = EstimateFactory(customer=customer)
    revision = EstimateRevisionFactory(estimate=estimate, fields={"notes": "Gate code 1234."})
    assert revision.number == 2 and revision.sent_at is None and revision.notes == "Gate code 1234."
    assert revision.lines.count() == 6 and revision.total == estimate.current_revision.total


def test_a_line_refreshes_the_documents_totals(customer):
    draft = InvoiceFactory(customer=customer, sent=False, lines=())
    LineItemFactory(doc=draft)  # 2 x $95.00, HST 13 %
    draft.refresh_from_db()
    assert draft.total == Decimal("214.70")


def test_an_invoice_and_a_payment_on_it(customer):
    invoice = InvoiceFactory(customer=customer)
    assert invoice.status == InvoiceStatus.SENT and invoice.total == Decimal("1356.00")
    PaymentFactory(invoice=invoice, amount="356.00")
    invoice.refresh_from_db()
    assert invoice.balance == Decimal("1000.00")
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID


def test_a_signed_estimate_is_accepted_through_the_portal(customer):
    estimate = SignedEstimateFactory(customer=customer)
    assert estimate.status == EstimateStatus.ACCEPTED
    assert estimate.accepted_revision == estimate.current_revision
    assert Signature.objects.filter(revision=estimate.accepted_revision).count() == 1
