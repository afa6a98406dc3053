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

    preview = page.locator("#preview")
    expect(preview).to_contain_text(invoice.customer.name)
    expect(preview).to_contain_text(invoice.display_number)
    expect(preview.locator(".sms-segments")).to_contain_text("1 SMS part")

    body = page.get_by_role("textbox", name="Message", exact=True)
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

    page.get_by_role("textbox", name="Message", exact=True).fill(
        "{company_name}: invoice {document_number} {payment_link}"
    )
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Automation saved.")).to_be_visible()
    automation.refresh_from_db()
    assert automation.body == "{company_name}: invoice {document_number} {payment_link}"
    assert not [e for e in csp_violations if "Content Security Policy" in e]
