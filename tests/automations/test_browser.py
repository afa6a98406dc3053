"""Editing an automation in real Chromium, at 1280 and 390 px: the preview follows the text as
it is typed (htmx), with the SMS segment count; an unknown variable is refused next to the
field; saving returns to the list. With the strict CSP on.

Screenshots go to ``$CC_SCREENSHOTS`` when set, else to the test's temporary directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from automations.models import Automation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("CC_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("size", ["1280", "390"])
def test_owner_edits_an_automation_with_a_live_preview(
    live_server, page, login_as, owner, invoice, shots, csp_violations, size
):
    automation = Automation.objects.get(company=owner.company, key="invoice_sent_sms")
    login_as(owner)
    page.set_viewport_size(SIZES[size])
    page.goto(live_server.url + reverse("automations:list"))
    expect(page.get_by_role("heading", name="Automations", exact=True)).to_be_visible()
    page.screenshot(path=shots / f"automations-list-{size}.png", full_page=True)
    page.get_by_role("link", name="Invoice sent (SMS)").click()

    preview = page.locator('#preview .preview-language[data-language="en"]')
    expect(page.locator("#preview")).to_contain_text(invoice.customer.name)
    expect(preview).to_contain_text(invoice.display_number)
    expect(preview.locator(".sms-segments")).to_contain_text("1 SMS part")

    body = page.get_by_role("textbox", name="Message (English)")
    body.fill("Hi {customer_name}! 👍 " + "Your invoice is ready. " * 4 + "{payment_link}")
    expect(preview.locator(".preview-body")).to_contain_text(f"Hi {invoice.customer.name}! 👍")
    expect(preview.locator(".sms-segments")).to_contain_text("UCS-2")
    expect(preview.locator(".sms-segments")).to_contain_text("3 SMS parts")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"], width
    page.screenshot(path=shots / f"automation-edit-{size}.png", full_page=True)

    body.fill("Hi {first_name}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field-error")).to_contain_text("Unknown variable {first_name}")
    automation.refresh_from_db()
    assert automation.body.startswith("{company_name}: invoice")

    page.get_by_role("textbox", name="Message (English)").fill(
        "{company_name}: invoice {document_number} {payment_link}"
    )
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Automation saved.")).to_be_visible()
    automation.refresh_from_db()
    assert automation.body == "{company_name}: invoice {document_number} {payment_link}"
    assert not [e for e in csp_violations if "Content Security Policy" in e]


def test_the_editor_shows_both_languages_and_warns_when_french_is_missing(
    live_server, page, login_as, owner, invoice, shots, csp_violations
):
    """At 390 px: the English and French messages one above the other, each with its own
    live preview and segment count (the French one UCS-2 for its accents), and a warning as
    soon as the French message is emptied, kept after saving."""
    automation = Automation.objects.get(company=owner.company, key="invoice_sent_sms")
    login_as(owner)
    page.set_viewport_size(SIZES["390"])
    page.goto(live_server.url + reverse("automations:detail", args=[automation.public_id]))

    english = page.get_by_role("textbox", name="Message (English)")
    french = page.get_by_role("textbox", name="Message (French)")
    expect(english).to_be_visible()
    expect(french).to_have_value(automation.body_fr)
    expect(page.get_by_role("group", name="French")).to_be_visible()
    box_en, box_fr = english.bounding_box(), french.bounding_box()
    assert box_fr["y"] > box_en["y"] + box_en["height"]  # stacked on a phone

    en_preview = page.locator('#preview .preview-language[data-language="en"]')
    fr_preview = page.locator('#preview .preview-language[data-language="fr"]')
    expect(en_preview.locator(".preview-body")).to_contain_text("$1,356.00 due")
    # The amount's no-break spaces are plain ones in a text: the French one stays GSM-7.
    expect(fr_preview.locator(".preview-body")).to_contain_text("1 356,00 $ à payer")
    expect(fr_preview.locator(".preview-body")).to_have_attribute("lang", "fr-CA")
    expect(en_preview.locator(".sms-segments")).to_contain_text("SMS part")
    expect(fr_preview.locator(".sms-segments")).to_contain_text("(GSM-7): 1 SMS part")
    expect(page.locator(".language-warning")).to_have_count(0)

    french.fill("Bonjour {customer_name}, votre facture {document_number} : {payment_link} ✔")
    expect(fr_preview.locator(".preview-body")).to_contain_text("votre facture")
    expect(fr_preview.locator(".sms-segments")).to_contain_text("UCS-2")
    expect(fr_preview.locator(".sms-segments")).to_contain_text("70 characters per part")
    expect(en_preview.locator(".sms-segments")).to_contain_text("GSM-7")

    french.fill("")
    warning = page.locator(".language-warning")
    expect(warning).to_contain_text("No French message")
    expect(fr_preview).to_contain_text("No message in this language yet.")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES["390"]["width"], width
    page.screenshot(path=shots / "automation-edit-languages-390.png", full_page=True)

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Automation saved.")).to_be_visible()
    automation.refresh_from_db()
    assert automation.body_fr == "" and automation.body.startswith("{company_name}: invoice")
    page.goto(live_server.url + reverse("automations:detail", args=[automation.public_id]))
    expect(page.locator(".language-warning")).to_contain_text(
        "No French message: customers served in French will get the English one."
    )
    assert not [e for e in csp_violations if "Content Security Policy" in e]
