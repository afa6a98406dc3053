"""What staff change in the Django admin keeps an invoice's (or a draft revision's) stored totals
true: a draft's lines, province and date go through the services' checks and its totals are
stored again; a sent invoice's lines and what prices them are read-only, like a signed estimate's
(tests/portal/test_evidence_admin.py). Every page, PDF and payment reads the stored totals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from documents.models import Invoice, LineItem, TaxParts
from documents.services import line_save
from documents.totals import invoice_totals, revision_totals
from tests.factories import InvoiceFactory, line_fields

pytestmark = pytest.mark.django_db


def _change(model: str, pk: int) -> str:
    return reverse(f"admin:documents_{model}_change", args=[pk])


def _line_data(line: LineItem, **changes) -> dict:
    data = {
        "position": line.position,
        "description": line.description,
        "quantity": str(line.quantity),
        "unit_price": str(line.unit_price),
        "tax_parts": TaxParts.ALL,
        "kind": line.kind,
        "group": line.group,
        "taxable": "on",
        "selected_by_default": "on",
    }
    data.update(changes)
    return data


def _invoice_data(invoice: Invoice, **changes) -> dict:
    data = {
        "company": invoice.company_id,
        "customer": invoice.customer_id,
        "status": invoice.status,
        "province": invoice.province,
        "issue_date": invoice.issue_date.isoformat(),
        "terms": invoice.terms,
        "due_date": invoice.due_date.isoformat(),
        "notes": "",
        "terms_text": "",
        "lines-TOTAL_FORMS": "0",
        "lines-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


@pytest.fixture
def draft(customer, actor):
    """A draft invoice in Ontario: $100.00 + 13 % HST = $113.00."""
    return InvoiceFactory(
        customer=customer,
        actor=actor,
        lines=({"description": "Service call", "unit_price": "100.00"},),
        sent=False,
    )


def _add_part(invoice: Invoice, actor) -> LineItem:
    """A $50.00 line added by the dashboard's editor: the invoice is $169.50 with it."""
    line = line_save(
        doc=invoice, actor=actor, fields=line_fields({"description": "Part", "unit_price": "50.00"})
    )
    assert _stored(invoice)[2] == Decimal("169.50")
    return line


def _stored(invoice: Invoice) -> tuple[Decimal, Decimal, Decimal]:
    invoice.refresh_from_db()
    return invoice.subtotal, invoice.tax_total, invoice.total


def test_a_draft_line_changed_in_the_admin_stores_the_invoice_totals_again(
    admin_client, owner_client, draft
):
    line = draft.lines.get()
    response = admin_client.post(
        _change("lineitem", line.pk), _line_data(line, unit_price="200.00")
    )
    assert response.status_code == 302
    assert _stored(draft) == (Decimal("200.00"), Decimal("26.00"), Decimal("226.00"))
    assert invoice_totals(draft).total == draft.total
    page = owner_client.get(reverse("documents:invoice_detail", args=[draft.public_id]))
    assert "$226.00" in page.content.decode()


def test_a_line_added_to_a_draft_in_the_admin_counts_in_its_total(admin_client, draft):
    line = draft.lines.get()
    data = _line_data(line, description="Part", unit_price="50.00", position=2)
    data["invoice"] = draft.pk
    response = admin_client.post(reverse("admin:documents_lineitem_add"), data)
    assert response.status_code == 302
    assert _stored(draft) == (Decimal("150.00"), Decimal("19.50"), Decimal("169.50"))


def test_a_draft_line_deleted_in_the_admin_leaves_the_invoice_total(admin_client, draft, actor):
    extra = _add_part(draft, actor)
    delete = reverse("admin:documents_lineitem_delete", args=[extra.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert _stored(draft) == (Decimal("100.00"), Decimal("13.00"), Decimal("113.00"))


def test_lines_deleted_in_bulk_in_the_admin_leave_their_documents_totals(
    admin_client, draft, actor
):
    extra = _add_part(draft, actor)
    admin_client.post(
        reverse("admin:documents_lineitem_changelist"),
        {"action": "delete_selected", "_selected_action": [extra.pk], "post": "yes"},
    )
    assert not LineItem.objects.filter(pk=extra.pk).exists()
    assert _stored(draft) == (Decimal("100.00"), Decimal("13.00"), Decimal("113.00"))


def test_a_drafts_province_changed_in_the_admin_taxes_it_there(admin_client, draft):
    response = admin_client.post(_change("invoice", draft.pk), _invoice_data(draft, province="AB"))
    assert response.status_code == 302
    assert _stored(draft) == (Decimal("100.00"), Decimal("5.00"), Decimal("105.00"))


def test_a_line_past_the_document_limit_is_refused_with_the_reason(admin_client, draft):
    line = draft.lines.get()
    response = admin_client.post(
        _change("lineitem", line.pk), _line_data(line, quantity="2", unit_price="99999999.00")
    )
    assert response.status_code == 200
    assert "total would exceed $99,999,999.99" in response.content.decode()
    line.refresh_from_db()
    assert line.unit_price == Decimal("100.00")
    assert _stored(draft) == (Decimal("100.00"), Decimal("13.00"), Decimal("113.00"))


def test_a_sent_invoices_lines_and_prices_are_read_only_in_the_admin(admin_client, invoice):
    line = invoice.lines.get()
    before = _stored(invoice)
    url = _change("lineitem", line.pk)
    page = admin_client.get(url).content.decode()
    assert 'name="_save"' not in page and 'name="unit_price"' not in page
    assert admin_client.post(url, _line_data(line, unit_price="1.00")).status_code == 403
    delete = reverse("admin:documents_lineitem_delete", args=[line.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403

    data = _line_data(line, description="Extra", unit_price="1.00")
    data["invoice"] = invoice.pk
    response = admin_client.post(reverse("admin:documents_lineitem_add"), data)
    assert response.status_code == 200
    assert "its lines can no longer change" in response.content.decode()
    assert invoice.lines.count() == 1

    invoice_page = admin_client.get(_change("invoice", invoice.pk)).content.decode()
    assert 'name="province"' not in invoice_page and 'name="issue_date"' not in invoice_page
    admin_client.post(_change("invoice", invoice.pk), _invoice_data(invoice, province="AB"))
    invoice.refresh_from_db()
    assert invoice.province == "ON" and _stored(invoice) == before


def test_a_draft_revisions_line_changed_in_the_admin_stores_its_totals(
    admin_client, draft_estimate
):
    revision = draft_estimate.current_revision
    line = LineItem.objects.create(
        revision=revision, position=1, description="Labour", unit_price=Decimal("100.00")
    )
    response = admin_client.post(_change("lineitem", line.pk), _line_data(line, unit_price="80.00"))
    assert response.status_code == 302
    revision.refresh_from_db()
    assert revision.total == revision_totals(revision).total == Decimal("90.40")


def test_a_draft_sent_with_a_new_province_in_one_save_is_taxed_there(admin_client, draft):
    data = _invoice_data(draft, province="AB", status="sent")
    assert admin_client.post(_change("invoice", draft.pk), data).status_code == 302
    assert _stored(draft) == (Decimal("100.00"), Decimal("5.00"), Decimal("105.00"))
