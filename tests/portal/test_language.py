"""The customer's language: portal pages, the switcher, emails and PDFs follow it; the
dashboard stays English; signatures record it, and signatures made before that still verify."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core import mail
from pypdf import PdfReader

from crewcommand.lib.activity import Actor
from crewcommand.models import Activity, Customer
from documents.pdf import render_estimate_pdf
from portal import canonical, selectors, services
from portal import seal as signature_seal
from portal.models import Signature
from portal.notifications import document_email_preview
from tests.factories import sign
from tests.portal.helpers import accept_data, issue

pytestmark = pytest.mark.django_db
FRENCH_DATE = re.compile(
    r"\b\d{1,2} (janvier|février|mars|avril|mai|juin|juillet|août|"
    r"septembre|octobre|novembre|décembre) \d{4}\b"
)


def _french(customer: Customer) -> Customer:
    customer.language = "fr-ca"
    customer.save(update_fields=["language"])
    return customer


def _estimate_url(issued, estimate) -> str:
    return f"/p/{issued.token}/estimates/{estimate.public_id}/"


def test_pages_follow_the_customer_then_the_company_default(phone, estimate, estimate_link):
    url = _estimate_url(estimate_link, estimate)
    english = phone.get(url)
    assert english["Content-Language"] == "en-ca"
    assert "Accept and sign" in english.content.decode()
    company = estimate.company
    company.default_language = "fr-ca"
    company.save(update_fields=["default_language"])
    french = phone.get(url, HTTP_ACCEPT_LANGUAGE="en-CA")  # the customer's, not the browser's
    body = french.content.decode()
    assert french["Content-Language"] == "fr-ca" and '<html lang="fr-ca">' in body
    assert "Accepter et signer" in body and f"Soumission {estimate.display_number}" in body
    assert "TVH" in body or "TPS" in body
    # A customer's own choice wins over the company's default.
    estimate.customer.language = "en-ca"
    estimate.customer.save(update_fields=["language"])
    assert "Accept and sign" in phone.get(url).content.decode()


def test_the_switcher_saves_the_choice_on_post_only(phone, estimate, estimate_link):
    customer = estimate.customer
    url = _estimate_url(estimate_link, estimate)
    switch = f"/p/{estimate_link.token}/language/"
    assert phone.get(switch).status_code == 405  # no write on GET
    response = phone.post(switch, {"language": "fr-ca", "next": url})
    assert response.status_code == 302 and response["Location"] == url
    customer.refresh_from_db()
    assert customer.language == "fr-ca"
    assert Activity.objects.filter(verb="customer.updated").count() == 1
    assert "Accepter et signer" in phone.get(url).content.decode()
    # Another link of the same customer opens in French too: the choice is the customer's.
    other = issue(customer)
    assert "Vos documents" in phone.get(f"/p/{other.token}/").content.decode()
    # Nonsense changes nothing; a foreign "next" goes back to the portal home.
    response = phone.post(switch, {"language": "de", "next": "https://evil.example/"})
    assert response["Location"] == f"/p/{estimate_link.token}/"
    customer.refresh_from_db()
    assert customer.language == "fr-ca"
    response = phone.post(switch, {"language": "en-ca", "next": "//evil.example/"})
    assert response["Location"] == f"/p/{estimate_link.token}/"


def test_the_dashboard_stays_english_for_a_french_browser(owner_client, estimate):
    response = owner_client.get(estimate.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="fr-CA,fr")
    assert response.status_code == 200 and response["Content-Language"] == "en-ca"
    assert 'lang="en-ca"' in response.content.decode()


def test_the_customer_form_edits_the_language(owner_client, customer):
    url = f"/app/customers/{customer.public_id}/edit/"
    data = {"name": customer.name, "email": customer.email, "language": "fr-ca", "notes": ""}
    response = owner_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    customer.refresh_from_db()
    assert customer.language == "fr-ca"
    response = owner_client.post(url, {**data, "language": "xx"})
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.language == "fr-ca"


def test_the_link_email_and_the_pdf_are_in_the_customers_language(
    estimate, django_capture_on_commit_callbacks
):
    _french(estimate.customer)
    with django_capture_on_commit_callbacks(execute=True):
        services.share_document(document=estimate, actor=Actor.system())
    (email,) = [m for m in mail.outbox if m.to == [estimate.customer.email]]
    assert email.subject == (
        f"Votre soumission {estimate.display_number} de {estimate.company.name}"
    )
    assert email.body.startswith(f"Bonjour {estimate.customer.name},")
    assert "Consulter la soumission" in email.alternatives[0][0]
    # The contractor's preview shows it as the customer gets it (the dashboard stays English).
    preview = document_email_preview(document=estimate)
    assert preview.subject == email.subject
    pdf = render_estimate_pdf(estimate=estimate)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Soumission" in text and "PRÉPARÉE POUR" in text and "Sous-total" in text
    assert "TVH" in text or "TPS" in text
    assert FRENCH_DATE.search(text), text


def test_a_french_signature_records_french_and_verifies(phone, estimate, estimate_link):
    _french(estimate.customer)
    response = phone.post(_estimate_url(estimate_link, estimate) + "accept/", accept_data(estimate))
    assert response.status_code in (200, 302), response.content.decode()[:3000]
    signature = Signature.objects.get(estimate=estimate)
    snapshot = json.loads(signature.canonical_json)
    assert signature.canonical_version == 3 and snapshot["language"] == "fr-ca"
    assert signature.consent_text.startswith("J\u2019accepte de signer cette soumission")
    assert snapshot["consent_text"] == signature.consent_text
    assert services.signature_verify(signature=signature).ok
    certificate = selectors.certificate(signature=signature)
    assert certificate["language"] == "fr-ca"
    assert "Signature " + signature.public_id in certificate["verify_hint"]
    # The language is covered by the hash and the seal: changing it is a mismatch.
    forged = signature.canonical_json.replace('"language":"fr-ca"', '"language":"en-ca"')
    Signature.objects.filter(pk=signature.pk).update(
        canonical_json=forged, content_sha256=canonical.sha256_hex(forged)
    )
    assert not services.signature_verify(signature=Signature.objects.get(pk=signature.pk)).ok


def test_a_version_2_signature_made_before_languages_still_verifies(estimate, estimate_link):
    """Rows signed before v3 have no language in their snapshot: they verify as stored and
    their certificate says English (everything was English then)."""
    signature = sign(estimate, estimate_link.link)
    content = json.loads(signature.canonical_json)
    del content["language"]
    content["format"] = "crewcommand.estimate.v2"
    old = canonical.serialize(content)
    signature.canonical_version = 2
    signature.canonical_json = old
    signature.content_sha256 = canonical.sha256_hex(old)
    signature.seal_key_id, signature.seal = signature_seal.seal(signature)
    Signature.objects.filter(pk=signature.pk).update(
        canonical_version=2,
        canonical_json=old,
        content_sha256=signature.content_sha256,
        seal_key_id=signature.seal_key_id,
        seal=signature.seal,
    )
    stored = Signature.objects.get(pk=signature.pk)
    assert services.signature_verify(signature=stored).ok
    assert selectors.certificate(signature=stored)["language"] == "en-ca"
    _french(estimate.customer)  # the customer switched later: the signed PDF stays English
    pdf = selectors.signed_estimate_pdf(signature=Signature.objects.get(pk=signature.pk))
    last = PdfReader(io.BytesIO(pdf)).pages[-1].extract_text()
    assert "Certificate of electronic signature" in last and "English (en-ca)" in last
