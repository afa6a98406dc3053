"""Estimates and invoices: numbering, revisions, lifecycle, conversion."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from crewcommand.errors import ServiceError
from documents import services
from documents.models import EstimateStatus, Invoice, InvoiceStatus, LineKind
from documents.totals import Selection, revision_totals
from tests.factories import CustomerFactory, LineItemFactory

pytestmark = pytest.mark.django_db


def test_numbers_are_per_company_and_formatted(owner, customer, actor, outsider):
    first = services.estimate_create(company=owner.company, customer=customer, actor=actor)
    second = services.estimate_create(company=owner.company, customer=customer, actor=actor)
    other = services.estimate_create(
        company=outsider.company,
        customer=CustomerFactory(company=outsider.company),
        actor=actor,
    )
    assert (first.display_number, second.display_number) == ("EST-0001", "EST-0002")
    assert other.display_number == "EST-0001"
    invoice = services.invoice_create(company=owner.company, customer=customer, actor=actor)
    assert invoice.display_number == "INV-0001"


def test_totals_are_cached_from_the_tax_engine(draft_estimate, actor):
    LineItemFactory(
        doc=draft_estimate, actor=actor, quantity=Decimal("0.75"), unit_price=Decimal("55.50")
    )
    LineItemFactory(
        doc=draft_estimate,
        actor=actor,
        quantity=Decimal("1"),
        unit_price=Decimal("100.00"),
        taxable=False,
    )
    draft_estimate.refresh_from_db()
    revision = draft_estimate.current_revision
    assert revision.subtotal == Decimal("141.63")
    assert revision.tax_total == Decimal("5.41")  # 13% HST on 41.63 = 5.4119
    assert revision.total == revision_totals(revision).total == Decimal("147.04")


def test_editing_a_sent_estimate_makes_a_new_revision_and_keeps_the_old(draft_estimate, actor):
    line = LineItemFactory(doc=draft_estimate, actor=actor)
    services.estimate_send(estimate=draft_estimate, actor=actor)
    services.line_save(
        doc=draft_estimate,
        actor=actor,
        line_id=line.public_id,
        fields={"unit_price": Decimal("120.00")},
    )
    draft_estimate.refresh_from_db()
    old, new = draft_estimate.revisions.order_by("number")
    assert (old.number, new.number) == (1, 2)
    assert draft_estimate.current_revision == new
    assert draft_estimate.status == EstimateStatus.DRAFT
    assert old.lines.get().unit_price == Decimal("95.00")
    assert new.lines.get().unit_price == Decimal("120.00")
    assert old.total == Decimal("214.70") and new.total == Decimal("271.20")


def test_accepted_estimate_cannot_be_edited(draft_estimate, actor):
    LineItemFactory(doc=draft_estimate, actor=actor)
    draft_estimate.status = EstimateStatus.ACCEPTED
    draft_estimate.save()
    with pytest.raises(ServiceError, match="accepted"):
        LineItemFactory(doc=draft_estimate, actor=actor)


def test_convert_uses_the_customers_choices(draft_estimate, actor):
    LineItemFactory(doc=draft_estimate, actor=actor, description="Install")
    opt = LineItemFactory(
        doc=draft_estimate,
        actor=actor,
        description="Extended warranty",
        kind=LineKind.OPTIONAL,
        unit_price=Decimal("50"),
        selected_by_default=False,
    )
    good = LineItemFactory(
        doc=draft_estimate,
        actor=actor,
        description="40 gal tank",
        kind=LineKind.CHOICE,
        group="Tank",
        unit_price=Decimal("800"),
    )
    best = LineItemFactory(
        doc=draft_estimate,
        actor=actor,
        description="Tankless",
        kind=LineKind.CHOICE,
        group="Tank",
        unit_price=Decimal("2400"),
        selected_by_default=False,
    )
    services.estimate_send(estimate=draft_estimate, actor=actor)
    draft_estimate.refresh_from_db()
    selection = Selection(optional=frozenset({opt.public_id}), choices={"Tank": best.public_id})
    draft_estimate.status = EstimateStatus.ACCEPTED
    draft_estimate.accepted_revision = draft_estimate.current_revision
    draft_estimate.accepted_selection = selection.as_json()
    draft_estimate.save()
    invoice = services.estimate_convert(estimate=draft_estimate, actor=actor)
    descriptions = list(invoice.lines.values_list("description", flat=True))
    assert descriptions == ["Install", "Extended warranty", "Tankless"]
    assert good.description not in descriptions
    expected = revision_totals(draft_estimate.current_revision, selection).total
    assert invoice.total == expected
    # Converting again returns the same invoice.
    assert services.estimate_convert(estimate=draft_estimate, actor=actor) == invoice


def test_only_accepted_estimates_convert(draft_estimate, actor):
    with pytest.raises(ServiceError, match="accepted"):
        services.estimate_convert(estimate=draft_estimate, actor=actor)


def test_sent_invoice_cannot_be_edited_and_is_voided_not_deleted(draft_invoice, actor):
    LineItemFactory(doc=draft_invoice, actor=actor)
    services.invoice_send(invoice=draft_invoice, actor=actor)
    with pytest.raises(ServiceError, match="can't be edited"):
        LineItemFactory(doc=draft_invoice, actor=actor)
    services.invoice_void(invoice=draft_invoice, actor=actor)
    draft_invoice.refresh_from_db()
    assert draft_invoice.status == InvoiceStatus.VOID and draft_invoice.balance == 0
    assert Invoice.objects.filter(pk=draft_invoice.pk).exists()


def test_sending_requires_lines(draft_estimate, draft_invoice, actor):
    with pytest.raises(ServiceError, match="at least one line"):
        services.estimate_send(estimate=draft_estimate, actor=actor)
    with pytest.raises(ServiceError, match="at least one line"):
        services.invoice_send(invoice=draft_invoice, actor=actor)


def test_discount_may_not_push_the_total_below_zero(draft_invoice, actor):
    LineItemFactory(doc=draft_invoice, actor=actor, unit_price=Decimal("10.00"))
    with pytest.raises(ServiceError, match="below zero"):
        LineItemFactory(
            doc=draft_invoice, actor=actor, unit_price=Decimal("-50.00"), description="Discount"
        )
    assert draft_invoice.lines.count() == 1


def test_move_up_and_down(draft_invoice, actor):
    LineItemFactory(doc=draft_invoice, actor=actor, description="A")
    LineItemFactory(doc=draft_invoice, actor=actor, description="B")
    c = LineItemFactory(doc=draft_invoice, actor=actor, description="C")
    services.line_move(doc=draft_invoice, actor=actor, line_id=c.public_id, offset=-1)
    assert list(draft_invoice.lines.values_list("description", flat=True)) == ["A", "C", "B"]
    services.line_move(doc=draft_invoice, actor=actor, line_id=c.public_id, offset=-5)
    assert list(draft_invoice.lines.values_list("description", flat=True)) == ["C", "A", "B"]


def test_duplicate_copies_lines(draft_invoice, actor):
    LineItemFactory(doc=draft_invoice, actor=actor)
    copy = services.invoice_duplicate(invoice=draft_invoice, actor=actor)
    assert copy.number == draft_invoice.number + 1
    assert copy.total == draft_invoice.__class__.objects.get(pk=draft_invoice.pk).total


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_invoices_get_consecutive_distinct_numbers(owner, customer):
    from crewcommand.lib.activity import Actor

    actor = Actor.member(owner.user)
    barrier = threading.Barrier(20)
    numbers, errors = [], []

    def create():
        try:
            barrier.wait(timeout=10)
            invoice = services.invoice_create(company=owner.company, customer=customer, actor=actor)
            numbers.append(invoice.number)
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(numbers) == list(range(1, 21))
