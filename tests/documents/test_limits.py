"""Money limits: the largest line the form accepts, and any number of such lines, never
overflow a money column (a 500 on PostgreSQL); the service refuses with a clear message and
changes nothing. A NUL byte in a list's search box is a search, not a 500."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from crewcommand.errors import ServiceError
from crewcommand.lib.money import MAX_MONEY, MAX_QUANTITY
from documents import services
from documents.models import Estimate, Invoice, LineItem
from documents.totals import MAX_DOCUMENT_TOTAL
from tests.factories import LineItemFactory

pytestmark = pytest.mark.django_db

LIMIT_MESSAGE = "This document&#x27;s total would exceed $99,999,999.99"


def _post_line(client, doc, kind, **fields):
    data = {
        "description": "Everything",
        "quantity": "1",
        "unit_price": "1.00",
        "taxable": "on",
        "kind": "standard",
        "selected_by_default": "on",
        **fields,
    }
    return client.post(reverse(f"documents:{kind}_line_add", args=[doc.public_id]), data)


@pytest.mark.parametrize("kind", ["estimate", "invoice"])
def test_the_largest_line_the_form_allows_is_refused_with_a_message_not_a_500(
    owner_client, draft_estimate, draft_invoice, kind
):
    doc = draft_estimate if kind == "estimate" else draft_invoice
    response = _post_line(
        owner_client, doc, kind, quantity=str(MAX_QUANTITY), unit_price=f"{MAX_MONEY:,}"
    )
    assert response.status_code == 200
    assert LIMIT_MESSAGE in response.content.decode()
    assert not LineItem.objects.exists()
    if kind == "estimate":
        assert Estimate.objects.get().current_revision.total == 0
    else:
        assert Invoice.objects.get().total == 0


def test_many_lines_stop_at_the_document_limit_and_change_nothing(draft_estimate, actor):
    price = Decimal("40000000.00")
    LineItemFactory(
        doc=draft_estimate, actor=actor, quantity=Decimal("1"), unit_price=price, taxable=False
    )
    LineItemFactory(
        doc=draft_estimate, actor=actor, quantity=Decimal("1"), unit_price=price, taxable=False
    )
    with pytest.raises(ServiceError, match=r"would exceed \$99,999,999\.99"):
        LineItemFactory(
            doc=draft_estimate, actor=actor, quantity=Decimal("1"), unit_price=price, taxable=False
        )
    revision = Estimate.objects.get().current_revision
    assert revision.lines.count() == 2 and revision.total == Decimal("80000000.00")


def test_options_count_towards_the_limit_even_when_not_picked_by_default(draft_estimate, actor):
    # The customer may pick every option: the largest selection must fit too.
    one = Decimal("1")
    LineItemFactory(
        doc=draft_estimate,
        actor=actor,
        quantity=one,
        unit_price=Decimal("60000000.00"),
        taxable=False,
    )
    with pytest.raises(ServiceError):
        LineItemFactory(
            doc=draft_estimate,
            actor=actor,
            quantity=one,
            kind="optional",
            unit_price=Decimal("60000000.00"),
            taxable=False,
            selected_by_default=False,
        )
    assert Estimate.objects.get().current_revision.lines.count() == 1


def test_a_document_right_at_the_limit_is_saved_and_fits_its_columns(draft_invoice, actor):
    # $88,495,575.21 + 13% HST = $99,999,999.99 exactly.
    LineItemFactory(
        doc=draft_invoice, actor=actor, quantity=Decimal("1"), unit_price=Decimal("88495575.21")
    )
    draft_invoice.refresh_from_db()
    assert draft_invoice.total == MAX_DOCUMENT_TOTAL
    assert draft_invoice.balance == MAX_DOCUMENT_TOTAL


def test_a_discount_does_not_make_room_for_a_line_beyond_the_limit(draft_invoice, actor):
    one = Decimal("1")
    LineItemFactory(
        doc=draft_invoice,
        actor=actor,
        quantity=one,
        unit_price=Decimal("90000000.00"),
        taxable=False,
    )
    LineItemFactory(
        doc=draft_invoice,
        actor=actor,
        quantity=one,
        unit_price=Decimal("-90000000.00"),
        taxable=False,
    )
    with pytest.raises(ServiceError, match="would exceed"):
        LineItemFactory(
            doc=draft_invoice,
            actor=actor,
            quantity=one,
            unit_price=Decimal("90000000.00"),
            taxable=False,
        )
    draft_invoice.refresh_from_db()
    assert draft_invoice.lines.count() == 2 and draft_invoice.total == 0


@pytest.mark.parametrize(
    "name",
    [
        "dashboard:customer_list",
        "dashboard:job_list",
        "documents:estimate_list",
        "documents:invoice_list",
        "billing_dashboard:payment_list",
    ],
)
@pytest.mark.parametrize("query", ["\x00", "a\x00b", "EST-\x00001", "\r\n\x1b"])
def test_a_nul_byte_in_a_list_search_is_a_search_not_a_500(
    owner_client, customer, job, name, query
):
    url = reverse(name)
    response = owner_client.get(url, {"q": query, "status": query})
    assert response.status_code == 200
    htmx = owner_client.get(url, {"q": query}, headers={"HX-Request": "true"})
    assert htmx.status_code == 200


def test_a_document_already_over_the_limit_can_still_lose_lines(draft_invoice, actor):
    # Documents saved before the limit existed may be above it: removing lines must stay
    # possible, or the owner could never bring them back under it.
    one, price = Decimal("1"), Decimal("60000000.00")
    line = LineItemFactory(
        doc=draft_invoice, actor=actor, quantity=one, unit_price=price, taxable=False
    )
    for position in (8, 9):
        LineItem.objects.create(
            invoice=draft_invoice,
            position=position,
            description="Old",
            unit_price=price,
            taxable=False,
        )
    services.line_delete(doc=draft_invoice, actor=actor, line_id=line.public_id)
    draft_invoice.refresh_from_db()
    assert draft_invoice.lines.count() == 2 and draft_invoice.total == Decimal("120000000.00")
