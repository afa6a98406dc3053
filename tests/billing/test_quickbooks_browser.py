"""In real Chromium at 1280 px: the owner connects QuickBooks (the fake Intuit consent page
answers at once) and lands on the status page showing the realm and "Connected"."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils.csp import CSP
from playwright.sync_api import expect

from billing.quickbooks.models import ConnectionStatus, QuickBooksConnection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = "/tmp/quickbooks-shots"


def test_owner_connects_quickbooks_and_sees_the_status_page(
    live_server, settings, qbo_on, login_as, owner, csp_violations
):
    settings.SITE_URL = live_server.url
    # The Connect form's POST redirects to Intuit (here the fake): allow it in form-action.
    settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": [CSP.SELF, qbo_on.url]}
    page = login_as(owner)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("dashboard:settings"))
    page.get_by_role("link", name="QuickBooks").first.click()
    page.wait_for_url(re.compile(r"/app/billing/quickbooks/$"))
    page.screenshot(path=f"{SHOTS}/before-1280.png", full_page=True)
    page.get_by_role("button", name="Connect QuickBooks").click()
    page.wait_for_url(re.compile(r"/app/billing/quickbooks/$"))
    expect(page.get_by_text("QuickBooks is connected.")).to_be_visible()
    connection = QuickBooksConnection.objects.get()
    assert connection.status == ConnectionStatus.CONNECTED
    expect(page.get_by_text(connection.realm_id)).to_be_visible()
    expect(page.get_by_role("link", name="Tax codes")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/connected-1280.png", full_page=True)
    page.get_by_role("link", name="Tax codes").click()
    expect(page.get_by_label("ON — HST")).to_have_value("5")
    page.screenshot(path=f"{SHOTS}/tax-codes-1280.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + reverse("quickbooks:overview"))
    page.screenshot(path=f"{SHOTS}/connected-390.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    assert not [e for e in csp_violations if "Content Security Policy" in e]
