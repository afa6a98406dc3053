"""In real Chromium on a phone: Chantal Roy, the demo company's French-speaking customer (from
Montréal), opens her estimate link and reads it in French, switches to English and back (the
choice is saved on her), signs (the signed snapshot and its certificate record French, and the
signature still verifies), pays the deposit on the fake Stripe's hosted page, and gets her
receipt by email in French, with Canadian French money and dates."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django.utils.csp import CSP
from playwright.sync_api import expect
from pypdf import PdfReader

from billing.models import Payment, PaymentStatus, StripeAccount
from crewcommand.lib.activity import Actor
from crewcommand.models import Company, Customer
from portal import selectors, services
from portal.models import Signature
from portal.services import link_create
from tests.billing.conftest import deposit
from tests.browser import PHONE
from tests.factories import EstimateFactory

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SHOTS = "/tmp/french-shots"
NBSP = "\u00a0"
FRENCH_DATE = re.compile(
    r"\b\d{1,2} (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|"
    r"décembre) \d{4}\b"
)


@pytest.fixture
def demo_customer(stripe_on, live_server, settings):
    """The demo company (``seed_demo``) with Stripe connected in the fake, and its French
    customer, for whom the test makes a $1,234.56 water heater estimate asking a 25 % deposit."""
    call_command("seed_demo", allow_production=True, stdout=io.StringIO())
    company = Company.objects.get(slug="demo")
    account = stripe_on.add_account()
    StripeAccount.objects.create(
        company=company,
        account_id=account["id"],
        charges_enabled=True,
        details_submitted=True,
        connected_at=timezone.now(),
    )
    settings.SITE_URL = live_server.url
    settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": [CSP.SELF, stripe_on.url]}
    stripe_on.webhook_url = live_server.url + "/webhooks/stripe/"
    return Customer.objects.get(company=company, name="Chantal Roy")


def test_a_french_customer_reads_signs_and_pays_in_french(
    live_server, page, demo_customer, stripe_on, csp_violations
):
    chantal = demo_customer
    assert chantal.language == "fr-ca"
    estimate = EstimateFactory(
        customer=chantal,
        lines=({"description": "Chauffe-eau électrique 60 gallons", "unit_price": "1234.56"},),
        revision=deposit("25"),
    )
    issued = link_create(customer=chantal, actor=Actor.system(), document=estimate)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/p/{issued.token}/")
    page.wait_for_url(re.compile(rf"/estimates/{estimate.public_id}/$"))

    # French page, Canadian French money and dates; nothing wider than the phone.
    expect(page.locator("html")).to_have_attribute("lang", "fr-ca")
    expect(page.locator("h1")).to_contain_text(f"Soumission {estimate.display_number}")
    body = page.locator("main").inner_text()
    assert f"1{NBSP}234,56{NBSP}$" in body
    assert FRENCH_DATE.search(body), body
    assert "Valide jusqu\u2019au" in body, body
    assert "Accepter et signer" in body and "Sous-total" in body
    assert f"TVH 13{NBSP}%" in body, body  # an Ontario company: HST, in French TVH
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=f"{SHOTS}/estimate-fr-390.png", full_page=True)

    # The switcher: a POST that saves her choice, then the same page in that language.
    page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_contain_text(f"Estimate {estimate.display_number}")
    chantal.refresh_from_db()
    assert chantal.language == "en-ca"
    page.get_by_role("button", name="Français").click()
    expect(page.locator("h1")).to_contain_text(f"Soumission {estimate.display_number}")
    chantal.refresh_from_db()
    assert chantal.language == "fr-ca"

    # Sign with the typed name.
    page.get_by_label("Votre nom complet").fill("Chantal Roy")
    page.get_by_label("Utiliser mon nom saisi comme signature").check()
    page.get_by_label(re.compile("J\u2019accepte de signer cette soumission")).check()
    page.get_by_role("button", name="Accepter et signer").click()
    expect(page.get_by_text("Merci — cette soumission est acceptée.")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/signed-fr-390.png", full_page=True)

    signature = Signature.objects.get(estimate=estimate)
    snapshot = json.loads(signature.canonical_json)
    assert snapshot["format"] == "crewcommand.estimate.v3" and snapshot["language"] == "fr-ca"
    assert signature.consent_text.startswith("J\u2019accepte de signer cette soumission")
    assert snapshot["consent_text"] == signature.consent_text
    assert services.signature_verify(signature=signature).ok
    certificate = PdfReader(io.BytesIO(selectors.signed_estimate_pdf(signature=signature)))
    last = certificate.pages[-1].extract_text()
    assert "Certificat de signature électronique" in last
    assert "Langue des pages signées" in last and "Français (fr-ca)" in last
    assert signature.content_sha256 in last.replace("\n", "")

    # Pay the deposit on the fake Stripe page.
    due = f"348,76{NBSP}$"  # 25 % of 1 234,56 $ + TVH 160,49 $ = 1 395,05 $
    pay = page.locator("#pay-deposit-button")
    expect(pay).to_have_text(f"Payer l\u2019acompte de {due}")
    pay.click()
    page.wait_for_url(re.compile(rf"^{re.escape(stripe_on.url)}/pay/cs_"))
    page.locator("#pay").click()
    page.wait_for_url(re.compile(r"/pay/[a-z0-9]{14}/done/\?session_id=cs_"))
    expect(page.locator('[data-state="paid"]')).to_be_visible(timeout=15_000)
    expect(page.locator("#pay-status")).to_contain_text(f"{due} payé. Merci!")
    expect(page.locator("html")).to_have_attribute("lang", "fr-ca")
    page.screenshot(path=f"{SHOTS}/paid-fr-390.png", full_page=True)
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED

    receipts = [m for m in mail.outbox if m.to == [chantal.email]]
    assert len(receipts) == 1
    receipt = receipts[0]
    # Subjects are flattened to plain spaces (crewcommand.notifications.render_email).
    assert receipt.subject == "Reçu de Maple Leaf Plumbing & Heating : 348,76 $ reçu"
    assert receipt.body.startswith("Bonjour Chantal Roy,")
    assert f"Merci. Maple Leaf Plumbing & Heating a reçu votre paiement de {due}." in receipt.body
    assert f"Acompte pour la soumission {estimate.display_number}" in receipt.body
    assert "Numéro de reçu" in receipt.body and FRENCH_DATE.search(receipt.body), receipt.body
    html = receipt.alternatives[0][0]
    assert "Merci." in html and due in html
    assert [e for e in csp_violations if not e.startswith("Failed to load resource")] == []
