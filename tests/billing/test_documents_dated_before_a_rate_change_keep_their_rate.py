"""A document dated before a tax change keeps the old rate whenever it is edited, shown, printed
or paid: Nova Scotia's HST went from 15 % to 14 % on 2025-04-01, and today is long after.

The documents carry real dates (set through their own services); nothing here mocks the clock
or the tax code. Expected amounts are written out by hand, not computed by the project."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from billing.models import Payment
from crewcommand.lib.activity import Actor
from documents import services as documents
from documents.models import DepositKind, Estimate, Invoice, PaymentTerms
from portal.models import Signature
from portal.services import link_create
from tests.factories import CompanyFactory
from tests.portal.helpers import accept_data

pytestmark = pytest.mark.django_db

BEFORE = dt.date(2025, 3, 28)  # 15 % HST in Nova Scotia; 14 % from 2025-04-01


@pytest.fixture
def company(db):
    return CompanyFactory(
        name="Bluenose Electric", slug="bluenose", province="NS", timezone="America/Halifax"
    )


@pytest.fixture
def actor(owner):
    return Actor.member(owner.user)


def _line(doc, actor, description: str, price: str):
    return documents.line_save(
        doc=doc,
        actor=actor,
        fields={
            "description": description,
            "quantity": Decimal("1"),
            "unit_price": Decimal(price),
            "taxable": True,
        },
    )


def _pdf_text(data: bytes) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return text.replace("\u202f", " ").replace("\xa0", " ")


def _portal(customer, document):
    issued = link_create(customer=customer, actor=Actor.system(), document=document)
    return issued, Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Mobile Safari")


def test_an_invoice_dated_before_the_change_is_edited_shown_printed_and_paid_at_15_percent(
    customer, actor, owner_client, connected, stripe_on
):
    assert timezone.localdate() > dt.date(2025, 4, 1)
    invoice = documents.invoice_create(company=customer.company, customer=customer, actor=actor)
    _line(invoice, actor, "Panel upgrade", "1000.00")
    documents.invoice_update(
        invoice=invoice, actor=actor, fields={"issue_date": BEFORE, "terms": PaymentTerms.NET_30}
    )
    # Edited after the change: totals are recomputed, still on the invoice's own date.
    _line(invoice, actor, "Service call", "200.00")
    documents.invoice_update(invoice=invoice, actor=actor, fields={"notes": "Gate code 1234"})
    documents.invoice_send(invoice=invoice, actor=actor)
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        Decimal("1200.00"),
        Decimal("180.00"),
        Decimal("1380.00"),
    )

    page = owner_client.get(invoice.get_absolute_url()).content.decode()
    assert "$180.00" in page and "$1,380.00" in page and "$168.00" not in page

    pdf = owner_client.get(reverse("documents:invoice_pdf", args=[invoice.public_id]))
    text = _pdf_text(pdf.content)
    assert "HST 15% $180.00" in text and "$1,380.00" in text

    issued, phone = _portal(customer, invoice)
    portal_page = phone.get(reverse("portal:invoice", args=[issued.token, invoice.public_id]))
    body = portal_page.content.decode()
    assert "15%" in body and "$180.00" in body and "Pay $1,380.00" in body
    portal_pdf = phone.get(reverse("portal:invoice_pdf", args=[issued.token, invoice.public_id]))
    assert "HST 15% $180.00" in _pdf_text(portal_pdf.content)

    answer = phone.post(
        reverse("billing_portal:pay_invoice", args=[issued.token, invoice.public_id])
    )
    assert answer.status_code == 303
    sent = stripe_on.last_request("/v1/checkout/sessions", "POST").form
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "138000"
    assert Payment.objects.get().amount == Decimal("1380.00")


def test_an_estimate_dated_before_the_change_is_signed_printed_and_its_deposit_paid_at_15_percent(
    customer, actor, owner_client, connected, stripe_on
):
    estimate = documents.estimate_create(company=customer.company, customer=customer, actor=actor)
    _line(estimate, actor, "Heat pump install", "800.00")
    documents.estimate_update(
        estimate=estimate,
        actor=actor,
        fields={
            "issue_date": BEFORE,
            "valid_until": timezone.localdate() + dt.timedelta(days=30),
            "deposit_kind": DepositKind.PERCENT,
            "deposit_value": Decimal("25"),
        },
    )
    # Edited after the change, while still a draft: the revision keeps its date.
    _line(estimate, actor, "Thermostat", "200.00")
    documents.estimate_send(estimate=estimate, actor=actor)
    estimate = Estimate.objects.select_related("current_revision").get(pk=estimate.pk)
    assert estimate.current_revision.issue_date == BEFORE
    assert estimate.current_revision.total == Decimal("1150.00")

    page = owner_client.get(estimate.get_absolute_url()).content.decode()
    assert "$150.00" in page and "$1,150.00" in page and "$1,140.00" not in page
    pdf = owner_client.get(reverse("documents:estimate_pdf", args=[estimate.public_id]))
    assert "HST 15% $150.00" in _pdf_text(pdf.content)

    issued, phone = _portal(customer, estimate)
    portal_url = reverse("portal:estimate", args=[issued.token, estimate.public_id])
    body = phone.get(portal_url).content.decode()
    assert "15%" in body and "$1,150.00" in body
    accepted = phone.post(
        reverse("portal:estimate_accept", args=[issued.token, estimate.public_id]),
        accept_data(estimate, signer_name=customer.name),
    )
    assert accepted.status_code in {200, 302, 303}
    estimate.refresh_from_db()
    assert estimate.status == "accepted"
    assert '"total":"1150.00"' in Signature.objects.get(estimate=estimate).canonical_json
    signed_pdf = phone.get(reverse("portal:estimate_pdf", args=[issued.token, estimate.public_id]))
    assert "HST 15% $150.00" in _pdf_text(signed_pdf.content)

    body = phone.get(portal_url).content.decode()
    assert "Pay deposit $287.50" in body
    answer = phone.post(
        reverse("billing_portal:pay_deposit", args=[issued.token, estimate.public_id])
    )
    assert answer.status_code == 303
    sent = stripe_on.last_request("/v1/checkout/sessions", "POST").form
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "28750"
