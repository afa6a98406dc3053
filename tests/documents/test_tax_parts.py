"""Per-tax exemption on a line: in BC, SK, MB and QC a line can carry only GST (e.g. labour on
real property in BC) or only the provincial tax. The editor offers it, the totals, dashboard,
portal and PDF follow it, the old ``taxable`` flag keeps its meaning, and estimates signed
before it still verify."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from pypdf import PdfReader

from documents import pdf, services
from documents.models import Invoice, LineItem, TaxParts
from portal import canonical
from portal import services as portal_services
from tests.factories import LineItemFactory
from tests.portal.helpers import issue, sign

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture
def bc(company):
    company.province = "BC"
    company.save()
    return company


def _bc_invoice(customer, actor) -> Invoice:
    invoice = services.invoice_create(company=customer.company, customer=customer, actor=actor)
    LineItemFactory(
        doc=invoice,
        actor=actor,
        description="Install labour",
        unit_price=Decimal("500.00"),
        quantity=Decimal("2"),
        tax_parts=TaxParts.FEDERAL,
    )
    LineItemFactory(
        doc=invoice,
        actor=actor,
        description="Heat pump",
        unit_price=Decimal("3000.00"),
        quantity=Decimal("1"),
    )
    return Invoice.objects.get(pk=invoice.pk)


def test_a_gst_only_line_in_bc_is_left_out_of_the_pst_base(bc, customer, actor):
    invoice = _bc_invoice(customer, actor)
    assert invoice.province == "BC"
    # GST 5 % of 4,000.00 = 200.00; PST 7 % of 3,000.00 only = 210.00.
    assert invoice.subtotal == Decimal("4000.00")
    assert invoice.tax_total == Decimal("410.00")
    assert invoice.total == Decimal("4410.00")


def test_the_editor_offers_the_provinces_taxes_and_saves_a_gst_only_line(
    bc, owner_client, customer, actor
):
    invoice = services.invoice_create(company=bc, customer=customer, actor=actor)
    page = owner_client.get(invoice.get_absolute_url()).content.decode()
    assert '<select name="tax_parts"' in page
    assert ">GST and PST</option>" in page and ">GST only</option>" in page
    assert ">PST only</option>" in page
    assert "Labour on real property is usually GST only (no PST)." in page

    answer = owner_client.post(
        reverse("documents:invoice_line_add", args=[invoice.public_id]),
        {
            "description": "Install labour",
            "quantity": "10",
            "unit_price": "95.00",
            "taxable": "on",
            "tax_parts": "federal",
        },
        headers=HX,
    )
    body = answer.content.decode()
    assert answer.status_code == 200
    line = LineItem.objects.get(invoice=invoice)
    assert line.taxable and line.tax_parts == TaxParts.FEDERAL
    assert 'class="badge badge-draft">GST only</span>' in body
    assert "GST 5%" in body and "$47.50" in body  # GST on 950.00
    assert "PST 7%" in body and "$0.00" in body

    bad = owner_client.post(
        reverse("documents:invoice_line_add", args=[invoice.public_id]),
        {
            "description": "X",
            "quantity": "1",
            "unit_price": "1",
            "taxable": "on",
            "tax_parts": "gst",
        },
        headers=HX,
    )
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()
    assert LineItem.objects.filter(invoice=invoice).count() == 1


def test_an_untaxed_line_has_no_taxes_whatever_the_select_said(bc, owner_client, customer, actor):
    invoice = services.invoice_create(company=bc, customer=customer, actor=actor)
    owner_client.post(
        reverse("documents:invoice_line_add", args=[invoice.public_id]),
        {"description": "Permit fee", "quantity": "1", "unit_price": "80", "tax_parts": "federal"},
        headers=HX,
    )
    line = LineItem.objects.get(invoice=invoice)
    assert not line.taxable and line.tax_parts == TaxParts.ALL


def test_in_a_one_tax_province_there_is_nothing_to_choose(owner_client, customer, actor):
    invoice = services.invoice_create(company=customer.company, customer=customer, actor=actor)
    assert invoice.province == "ON"
    page = owner_client.get(invoice.get_absolute_url()).content.decode()
    assert '<select name="tax_parts"' not in page
    assert 'type="hidden" name="tax_parts" value="all"' in page


def test_portal_and_pdf_say_which_taxes_apply_to_a_line(bc, client, customer, actor):
    invoice = _bc_invoice(customer, actor)
    services.invoice_send(invoice=invoice, actor=actor)
    invoice.refresh_from_db()
    link = issue(customer, invoice)
    body = client.get(
        reverse("portal:invoice", args=[link.token, invoice.public_id])
    ).content.decode()
    assert 'Install labour<br><span class="small muted">GST only</span>' in body
    assert "Heat pump<br>" not in body  # every tax: nothing to say
    text = "".join(
        page.extract_text()
        for page in PdfReader(io.BytesIO(pdf.render_invoice_pdf(invoice=invoice))).pages
    )
    assert "GST only" in text and "$4,410.00" in text


def test_a_signed_gst_only_line_is_in_the_snapshot_and_verifies(bc, customer, job, actor):
    estimate = services.estimate_create(company=bc, customer=customer, job=job, actor=actor)
    LineItemFactory(doc=estimate, actor=actor, description="Labour", tax_parts=TaxParts.FEDERAL)
    LineItemFactory(doc=estimate, actor=actor, description="Parts", unit_price=Decimal("100.00"))
    services.estimate_send(estimate=estimate, actor=actor)
    estimate.refresh_from_db()
    signature = sign(estimate, issue(customer, estimate))
    lines = json.loads(signature.canonical_json)["lines"]
    assert [line.get("tax_parts") for line in lines] == ["federal", None]
    assert portal_services.signature_verify(signature=signature).ok

    # Changing which taxes a signed line carries is a mismatch.
    LineItem.objects.filter(revision__estimate=estimate, description="Labour").update(
        tax_parts=TaxParts.ALL
    )
    assert not portal_services.signature_verify(signature=signature).ok


def test_lines_with_every_tax_or_none_serialize_exactly_as_before(customer, job, actor):
    """Content signed before per-tax exemption has no ``tax_parts`` key and must still match:
    the same keys, in the same form, for lines with every tax or none."""
    estimate = services.estimate_create(
        company=customer.company, customer=customer, job=job, actor=actor
    )
    LineItemFactory(doc=estimate, actor=actor, description="Taxed")
    LineItemFactory(doc=estimate, actor=actor, description="Exempt", taxable=False)
    revision = estimate.current_revision
    from documents.totals import default_selection

    lines = list(revision.lines.all())
    content = canonical.document_content(
        estimate=estimate, revision=revision, selection=default_selection(lines)
    )
    keys = {
        "id",
        "position",
        "description",
        "quantity",
        "unit_price",
        "amount",
        "taxable",
        "kind",
        "group",
        "selected",
    }
    assert [set(line) for line in content["lines"]] == [keys, keys]
    services.estimate_send(estimate=estimate, actor=actor)
    estimate.refresh_from_db()
    signature = sign(estimate, issue(customer, estimate))
    assert "tax_parts" not in signature.canonical_json
    assert portal_services.signature_verify(signature=signature).ok


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_taxable_flag_meaning_all_or_nothing(customer, actor):
    invoice = services.invoice_create(company=customer.company, customer=customer, actor=actor)
    LineItemFactory(doc=invoice, actor=actor, description="Taxed")
    LineItemFactory(doc=invoice, actor=actor, description="Exempt", taxable=False)
    call_command("migrate", "documents", "0001", verbosity=0)
    with connection.cursor() as cursor:  # Django's introspection: PostgreSQL and SQLite alike
        table = connection.introspection.get_table_description(cursor, "documents_lineitem")
    assert "tax_parts" not in {column.name for column in table}
    # Every app forward again: going back to documents 0001 also unapplied the migrations of
    # other apps that depend on later documents ones (billing's, automations').
    call_command("migrate", verbosity=0)
    rows = dict(LineItem.objects.filter(invoice=invoice).values_list("description", "taxable"))
    parts = set(LineItem.objects.filter(invoice=invoice).values_list("tax_parts", flat=True))
    assert rows == {"Taxed": True, "Exempt": False} and parts == {TaxParts.ALL}
