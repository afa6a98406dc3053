"""Sent documents render once; anything their PDF shows changes the cache key."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from documents import pdf, services
from tests.factories import LineItemFactory

pytestmark = pytest.mark.django_db


def text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def renders(monkeypatch):
    """Counts real renders (the spy calls through to WeasyPrint)."""
    calls = []
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


def _sent_invoice(draft_invoice, actor):
    LineItemFactory(
        doc=draft_invoice, actor=actor, quantity=Decimal("1"), unit_price=Decimal("100.00")
    )
    return services.invoice_send(invoice=draft_invoice, actor=actor)


def test_a_sent_invoice_renders_once(draft_invoice, actor, renders):
    draft_invoice = _sent_invoice(draft_invoice, actor)
    first = pdf.render_invoice_pdf(invoice=draft_invoice)
    second = pdf.render_invoice_pdf(invoice=draft_invoice)
    assert first == second and renders == ["invoice"]


def test_a_payment_or_a_new_customer_name_renders_again(
    draft_invoice, actor, customer, owner, renders
):
    from billing.services import payment_record

    draft_invoice = _sent_invoice(draft_invoice, actor)
    assert "PAID" not in text(pdf.render_invoice_pdf(invoice=draft_invoice))
    payment_record(
        actor=actor,
        amount=draft_invoice.total,
        method="cash",
        received_on=draft_invoice.issue_date,
        invoice=draft_invoice,
    )
    draft_invoice.refresh_from_db()
    assert "PAID" in text(pdf.render_invoice_pdf(invoice=draft_invoice))
    customer.name = "Alice Tremblay-Roy"
    customer.save()
    draft_invoice.refresh_from_db()
    assert "Alice Tremblay-Roy" in text(pdf.render_invoice_pdf(invoice=draft_invoice))
    assert renders == ["invoice", "invoice", "invoice"]


def test_drafts_are_never_cached(draft_invoice, draft_estimate, actor, renders):
    LineItemFactory(doc=draft_invoice, actor=actor, description="First")
    pdf.render_invoice_pdf(invoice=draft_invoice)
    LineItemFactory(doc=draft_invoice, actor=actor, description="Second line")
    assert "Second line" in text(pdf.render_invoice_pdf(invoice=draft_invoice))
    LineItemFactory(doc=draft_estimate, actor=actor)
    draft_estimate.refresh_from_db()
    pdf.render_estimate_pdf(estimate=draft_estimate)
    pdf.render_estimate_pdf(estimate=draft_estimate)
    assert renders == ["invoice", "invoice", "estimate", "estimate"]


def test_a_sent_estimate_renders_once_per_selection(draft_estimate, actor, renders):
    from documents.totals import Selection

    LineItemFactory(doc=draft_estimate, actor=actor)
    optional = LineItemFactory(
        doc=draft_estimate,
        actor=actor,
        description="Add-on",
        kind="optional",
        selected_by_default=False,
    )
    services.estimate_send(estimate=draft_estimate, actor=actor)
    draft_estimate.refresh_from_db()
    pdf.render_estimate_pdf(estimate=draft_estimate)
    pdf.render_estimate_pdf(estimate=draft_estimate)
    picked = Selection(optional=frozenset({optional.public_id}))
    pdf.render_estimate_pdf(estimate=draft_estimate, selection=picked)
    assert renders == ["estimate", "estimate"]
