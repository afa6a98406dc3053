"""Issue 12, point 15: on a 1280x720 screen the customer sees the Pay button without
scrolling (beside the balance due), and the "Pay online" card carries its own Pay button; on a
phone the sticky bar stays the one Pay button in sight. Real Chromium, real Stripe SDK against
the fake."""

from __future__ import annotations

import re

import pytest
from django.utils.csp import CSP
from playwright.sync_api import expect

from crewcommand.lib.activity import Actor
from portal.services import link_create
from tests.browser import PHONE
from tests.factories import InvoiceFactory

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SHOTS = "/tmp/i12a"
DESKTOP = {"width": 1280, "height": 720}
PAY = re.compile(r"^Pay \$")


@pytest.fixture
def live_stripe(live_server, settings, stripe_on):
    settings.SITE_URL = live_server.url
    settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": [CSP.SELF, stripe_on.url]}
    return stripe_on


def _open(page, live_server, customer, viewport, **invoice):
    invoice = InvoiceFactory(customer=customer, **invoice)
    issued = link_create(customer=customer, actor=Actor.system(), document=invoice)
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/p/{issued.token}/")
    page.wait_for_url(re.compile(rf"/invoices/{invoice.public_id}/$"))
    return invoice


def _in_sight(page, locator) -> bool:
    """Visible and wholly inside the window as it is, without scrolling."""
    if not locator.is_visible():
        return False
    box = locator.bounding_box()
    size = page.viewport_size
    return box["y"] >= 0 and box["y"] + box["height"] <= size["height"] and box["x"] >= 0


def _pay_buttons_in_sight(page) -> list[str]:
    buttons = page.get_by_role("button", name=PAY)
    return [
        buttons.nth(i).inner_text()
        for i in range(buttons.count())
        if _in_sight(page, buttons.nth(i))
    ]


def test_at_1280_the_pay_button_is_in_sight_without_scrolling_and_the_card_has_its_own(
    live_server, page, customer, connected, live_stripe, csp_violations
):
    invoice = _open(page, live_server, customer, DESKTOP, notes="Thanks for your business.\n" * 6)
    page.screenshot(path=f"{SHOTS}/portal-invoice-1280x720.png")
    page.screenshot(path=f"{SHOTS}/portal-invoice-1280-full.png", full_page=True)
    assert page.evaluate("window.scrollY") == 0

    top = page.locator("#pay-summary-button")
    expect(top).to_have_text("Pay $1,356.00")
    assert _in_sight(page, top), top.bounding_box()
    assert _pay_buttons_in_sight(page) == ["Pay $1,356.00"]  # one, not a pile of them

    card = page.locator("#pay")
    expect(card.get_by_role("heading", name="Pay online")).to_be_visible()
    expect(card.get_by_role("button", name="Pay $1,356.00")).to_be_visible()
    expect(page.locator("#pay-button")).to_be_hidden()  # the phone's sticky bar
    card.scroll_into_view_if_needed()
    card.screenshot(path=f"{SHOTS}/portal-pay-card-1280.png")

    top.click()
    page.wait_for_url(re.compile(rf"^{re.escape(live_stripe.url)}/pay/cs_"))
    expect(page.locator("#amount")).to_have_text("$1,356.00 CAD")
    assert invoice.public_id
    assert [e for e in csp_violations if not e.startswith("Failed to load resource")] == []


def test_the_pay_online_card_button_pays_too(
    live_server, page, customer, connected, live_stripe, csp_violations
):
    _open(page, live_server, customer, DESKTOP)
    page.locator("#pay").get_by_role("button", name="Pay $1,356.00").click()
    page.wait_for_url(re.compile(rf"^{re.escape(live_stripe.url)}/pay/cs_"))
    expect(page.locator("#amount")).to_have_text("$1,356.00 CAD")


def test_on_a_phone_the_sticky_bar_is_the_one_pay_button_in_sight(
    live_server, page, customer, connected, live_stripe, csp_violations
):
    _open(page, live_server, customer, PHONE)
    page.screenshot(path=f"{SHOTS}/portal-invoice-390x844.png")
    assert _pay_buttons_in_sight(page) == ["Pay $1,356.00"]
    assert _in_sight(page, page.locator("#pay-button"))
    expect(page.locator("#pay-summary-button")).to_be_hidden()
    expect(page.locator("#pay-card-button")).to_be_hidden()

    page.locator("#pay").scroll_into_view_if_needed()
    page.screenshot(path=f"{SHOTS}/portal-invoice-390-at-card.png")
    assert _pay_buttons_in_sight(page) == ["Pay $1,356.00"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=f"{SHOTS}/portal-invoice-390-full.png", full_page=True)
    assert [e for e in csp_violations if not e.startswith("Failed to load resource")] == []


def test_without_card_payments_the_top_of_the_invoice_leads_to_how_to_pay(
    live_server, page, customer, company, settings
):
    settings.STRIPE_SECRET_KEY = ""
    company.payment_instructions = "Interac e-Transfer to pay@maple.example"
    company.save()
    _open(page, live_server, customer, DESKTOP)
    page.screenshot(path=f"{SHOTS}/portal-invoice-no-stripe-1280x720.png")
    how = page.get_by_role("link", name="How to pay")
    assert _in_sight(page, how)
    assert page.get_by_role("button", name=PAY).count() == 0
    how.click()
    expect(page.locator("#pay")).to_contain_text("pay@maple.example")
    assert page.url.endswith("#pay")
