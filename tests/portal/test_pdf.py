"""PDF downloads from the portal, and the certificate page of a signed estimate."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from tests.portal.helpers import issue, sign

pytestmark = pytest.mark.django_db


def _text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_customer_downloads_the_estimate_and_invoice_pdfs(phone, estimate, estimate_link, invoice):
    response = phone.get(
        reverse("portal:estimate_pdf", args=[estimate_link.token, estimate.public_id])
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "no-store"
    assert estimate.display_number in _text(response.content)
    invoice_link = issue(invoice.customer, invoice)
    response = phone.get(
        reverse("portal:invoice_pdf", args=[invoice_link.token, invoice.public_id])
    )
    assert response.status_code == 200 and invoice.display_number in _text(response.content)


def test_a_signed_estimate_pdf_carries_the_certificate_page(
    phone, owner_client, estimate, estimate_link
):
    signature = sign(estimate, estimate_link)
    response = phone.get(
        reverse("portal:estimate_pdf", args=[estimate_link.token, estimate.public_id])
    )
    text = _text(response.content).replace("\n", "")
    assert signature.content_sha256 in text
    assert "Alice Tremblay" in text and estimate_link.link.reference in text
    dashboard = owner_client.get(
        reverse("portal_dashboard:signature_pdf", args=[signature.public_id])
    )
    assert signature.content_sha256 in _text(dashboard.content).replace("\n", "")
