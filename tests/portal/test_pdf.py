"""PDF downloads from the portal, and the certificate page of a signed estimate."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from crewcommand import services
from crewcommand.lib.activity import Actor
from portal.models import Signature
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


def test_the_signed_pdf_shows_what_was_signed_after_later_edits(
    phone, owner_client, owner, estimate, estimate_link
):
    customer = estimate.customer
    services.customer_update(
        customer=customer,
        actor=Actor.member(owner.user),
        fields={"address_line1": "12 Maple Street", "city": "Kingston", "postal_code": "K7L 3N6"},
    )
    signature = sign(estimate, estimate_link)
    portal_url = reverse("portal:estimate_pdf", args=[estimate_link.token, estimate.public_id])
    dashboard_url = reverse("portal_dashboard:signature_pdf", args=[signature.public_id])
    before = _text(phone.get(portal_url).content)
    assert "Alice Tremblay" in before and "12 Maple Street" in before and "Acme" not in before
    # After signing, the contractor edits the customer, the company and the estimate's job.
    services.customer_update(
        customer=customer,
        actor=Actor.member(owner.user),
        fields={"name": "Bob Forger", "address_line1": "99 Other Road", "city": "Ottawa"},
    )
    company = estimate.company
    company.name, company.gst_number = "Acme Renamed Inc.", "999999999RT0001"
    company.save()
    for url, client in ((portal_url, phone), (dashboard_url, owner_client)):
        after = _text(client.get(url).content)
        assert after == before
        assert "Bob Forger" not in after and "99 Other Road" not in after
        assert "Acme Renamed" not in after and "999999999" not in after


@pytest.mark.parametrize("garbage", ["not json", '{"format": "crewcommand.estimate.v2"}', "[]"])
def test_a_snapshot_mangled_in_the_database_still_gives_a_pdf_not_a_500(
    phone, owner_client, estimate, estimate_link, garbage
):
    signature = sign(estimate, estimate_link)
    Signature.objects.filter(pk=signature.pk).update(canonical_json=garbage)
    response = phone.get(
        reverse("portal:estimate_pdf", args=[estimate_link.token, estimate.public_id])
    )
    assert response.status_code == 200 and "Alice Tremblay" in _text(response.content)
    verify = reverse("portal_dashboard:signature_verify", args=[signature.public_id])
    assert "Mismatch" in owner_client.get(verify, HTTP_HX_REQUEST="true").content.decode()
