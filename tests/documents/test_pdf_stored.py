"""A sent document's PDF is rendered by a task and stored; the customer's link serves the file.

Stored names follow what the PDF shows: a new revision, a payment or another language is
another file, so nothing stale is ever served."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from crewcommand.lib.activity import Actor
from documents import pdf, services
from documents.models import Estimate, Invoice
from portal.services import invoice_deliver, link_create
from tests.factories import LineItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def renders(monkeypatch):
    """Counts real renders (the spy calls through to WeasyPrint)."""
    calls: list[str] = []
    real_invoice, real_estimate = pdf._render_invoice, pdf._render_estimate

    def invoice(*args, **kwargs):
        calls.append("invoice")
        return real_invoice(*args, **kwargs)

    def estimate(*args, **kwargs):
        calls.append("estimate")
        return real_estimate(*args, **kwargs)

    monkeypatch.setattr(pdf, "_render_invoice", invoice)
    monkeypatch.setattr(pdf, "_render_estimate", estimate)
    return calls


def stored(media, kind: str, pk: int) -> list[str]:
    folder = media / "pdfs" / f"{kind}-{pk}"
    return sorted(str(p.relative_to(media)) for p in folder.rglob("*.pdf"))


def text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _sent(draft_invoice, actor, django_capture_on_commit_callbacks) -> Invoice:
    LineItemFactory(
        doc=draft_invoice, actor=actor, quantity=Decimal("1"), unit_price=Decimal("100.00")
    )
    with django_capture_on_commit_callbacks(execute=True):
        invoice_deliver(invoice=draft_invoice, actor=actor)
    return Invoice.objects.select_related("company", "customer", "job").get(pk=draft_invoice.pk)


def test_send_stores_the_pdf_and_the_customer_link_serves_that_file_without_rendering(
    draft_invoice, actor, customer, media, renders, django_capture_on_commit_callbacks
):
    invoice = _sent(draft_invoice, actor, django_capture_on_commit_callbacks)
    [name] = stored(media, "invoice", invoice.pk)
    assert name.startswith(f"pdfs/invoice-{invoice.pk}/en-ca/") and renders == ["invoice"]

    issued = link_create(customer=customer, actor=Actor.system(), document=invoice)
    phone = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Mobile Safari")
    answer = phone.get(reverse("portal:invoice_pdf", args=[issued.token, invoice.public_id]))
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    with default_storage.open(name, "rb") as handle:
        assert answer.content == handle.read()
    assert renders == ["invoice"]  # the task's render only: the request read the file


def test_a_lost_file_is_rendered_on_request_and_stored_again(
    draft_invoice, actor, media, renders, django_capture_on_commit_callbacks
):
    invoice = _sent(draft_invoice, actor, django_capture_on_commit_callbacks)
    [name] = stored(media, "invoice", invoice.pk)
    default_storage.delete(name)
    content = pdf.render_invoice_pdf(invoice=invoice)
    assert stored(media, "invoice", invoice.pk) == [name] and renders == ["invoice", "invoice"]
    assert "$113.00" in text(content) or "$100.00" in text(content)
    pdf.render_invoice_pdf(invoice=invoice)
    assert renders == ["invoice", "invoice"]


def test_a_payment_stores_a_new_pdf_after_commit_and_the_old_one_is_not_served(
    draft_invoice, actor, media, renders, django_capture_on_commit_callbacks
):
    from billing.services import payment_record

    invoice = _sent(draft_invoice, actor, django_capture_on_commit_callbacks)
    [before] = stored(media, "invoice", invoice.pk)
    with django_capture_on_commit_callbacks(execute=True):
        payment_record(
            actor=actor,
            amount=invoice.total,
            method="cash",
            received_on=invoice.issue_date,
            invoice=invoice,
        )
    after = [n for n in stored(media, "invoice", invoice.pk) if n != before]
    assert len(after) == 1 and renders == ["invoice", "invoice"]
    paid = Invoice.objects.select_related("company", "customer", "job").get(pk=invoice.pk)
    content = pdf.render_invoice_pdf(invoice=paid)
    assert renders == ["invoice", "invoice"] and "PAID" in text(content)
    with default_storage.open(after[0], "rb") as handle:
        assert content == handle.read()


def test_a_new_estimate_revision_is_another_file(draft_estimate, actor, media, renders):
    LineItemFactory(doc=draft_estimate, actor=actor, description="Furnace")
    services.estimate_send(estimate=draft_estimate, actor=actor)
    estimate = Estimate.objects.get(pk=draft_estimate.pk)
    pdf.render_estimate_pdf(estimate=estimate)
    pdf.render_estimate_pdf(estimate=estimate)
    first_revision = estimate.current_revision
    [first] = stored(media, "estimate-revision", first_revision.pk)
    assert renders == ["estimate"]

    services.estimate_revise(estimate=estimate, actor=actor)
    estimate = Estimate.objects.get(pk=estimate.pk)
    LineItemFactory(doc=estimate, actor=actor, description="Heat pump instead")
    services.estimate_send(estimate=estimate, actor=actor)
    estimate = Estimate.objects.get(pk=estimate.pk)
    content = pdf.render_estimate_pdf(estimate=estimate)
    second_revision = estimate.current_revision
    assert second_revision.number == 2 and second_revision.is_frozen
    assert stored(media, "estimate-revision", first_revision.pk) == [first]
    assert len(stored(media, "estimate-revision", second_revision.pk)) == 1
    assert renders == ["estimate", "estimate"]
    pdf.render_estimate_pdf(estimate=estimate)
    assert renders == ["estimate", "estimate"]
    assert "Heat pump instead" in text(content)


def test_the_customer_language_is_part_of_the_name(
    draft_invoice, actor, customer, media, renders, django_capture_on_commit_callbacks
):
    invoice = _sent(draft_invoice, actor, django_capture_on_commit_callbacks)
    customer.language = "fr-ca"
    customer.save(update_fields=["language"])
    invoice = Invoice.objects.select_related("company", "customer", "job").get(pk=invoice.pk)
    pdf.render_invoice_pdf(invoice=invoice)
    folders = {name.split("/")[2] for name in stored(media, "invoice", invoice.pk)}
    assert folders == {"en-ca", "fr-ca"} and renders == ["invoice", "invoice"]
