"""In real Chromium: a customer opens the invoice link on a phone, taps Pay, pays on the fake
Stripe's hosted page (which redirects back and fires the signed webhook, like Stripe), and
both the portal and the dashboard show *paid*, with a receipt sent."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils.csp import CSP
from playwright.sync_api import expect

from billing.models import Payment, PaymentStatus
from crewcommand.lib.activity import Actor
from documents.models import Invoice, InvoiceStatus
from portal.services import link_create
from tests.billing.conftest import make_invoice
from tests.browser import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SHOTS = "/tmp/billing-shots"


@pytest.fixture
def live_stripe(live_server, settings, stripe_on):
    """The app sends customers to the fake's hosted page and takes its webhooks."""
    settings.SITE_URL = live_server.url
    # A POST that redirects to Checkout is governed by form-action: allow the fake's origin.
    settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": [CSP.SELF, stripe_on.url]}
    stripe_on.webhook_url = live_server.url + "/webhooks/stripe/"
    return stripe_on


def _blocked(console_errors: list[str]) -> list[str]:
    """What the strict CSP refused. (The fake Stripe page has no favicon: Chromium logs that
    404 as a console error too, and it is not ours.)"""
    return [e for e in console_errors if not e.startswith("Failed to load resource")]


def _login(browser, live_server, member):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}{reverse('login')}")
    page.get_by_label("Username").fill(member.user.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/app/$"))
    return page


def test_customer_pays_an_invoice_in_two_taps_and_everyone_sees_paid(
    live_server, page, browser, owner, customer, connected, live_stripe, csp_violations
):
    invoice = make_invoice(customer)
    issued = link_create(customer=customer, actor=Actor.system(), document=invoice)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/p/{issued.token}/")
    page.wait_for_url(re.compile(rf"/invoices/{invoice.public_id}/$"))
    pay = page.locator("#pay-button")
    expect(pay).to_have_text("Pay $1,356.00")
    assert pay.is_visible()  # the sticky bar keeps it in reach on a phone
    page.screenshot(path=f"{SHOTS}/portal-invoice-390.png", full_page=True)

    pay.click()  # tap 1
    page.wait_for_url(re.compile(rf"^{re.escape(live_stripe.url)}/pay/cs_"))
    expect(page.locator("#amount")).to_have_text("$1,356.00 CAD")
    page.locator("#pay").click()  # tap 2
    page.wait_for_url(re.compile(r"/pay/[a-z0-9]{14}/done/\?session_id=cs_"))
    expect(page.locator('[data-state="paid"]')).to_be_visible(timeout=15_000)
    expect(page.locator("#pay-status")).to_contain_text("Paid $1,356.00. Thank you!")
    page.screenshot(path=f"{SHOTS}/portal-paid-390.png", full_page=True)

    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert [d.status for d in live_stripe.deliveries] == [200]
    receipts = [m for m in mail.outbox if m.to == [customer.email]]
    assert len(receipts) == 1 and "$1,356.00" in receipts[0].body

    page.get_by_role("link", name="Back to your invoice").click()
    expect(page.locator(".portal-paid-mark").first).to_be_visible()
    expect(page.locator("#received-h")).to_have_text("Payments received")
    assert page.locator("#pay-button").count() == 0

    office = _login(browser, live_server, owner)
    office.goto(f"{live_server.url}{invoice.get_absolute_url()}")
    expect(office.locator("#invoice-status")).to_contain_text("Paid")
    office.goto(
        f"{live_server.url}{reverse('billing_dashboard:invoice_payments', args=[invoice.public_id])}"
    )
    expect(office.locator("#billing-balance")).to_have_text("$0.00")
    office.goto(f"{live_server.url}{reverse('billing_dashboard:payment_list')}")
    expect(office.locator("#total-collected")).to_have_text("$1,356.00")
    office.screenshot(path=f"{SHOTS}/dashboard-payments-1280.png", full_page=True)
    assert _blocked(csp_violations) == []


def test_without_stripe_the_customer_sees_how_else_to_pay(
    live_server, page, customer, company, settings, csp_violations
):
    settings.STRIPE_SECRET_KEY = ""
    company.payment_instructions = "Interac e-Transfer to pay@maple.example (auto-deposit)"
    company.save()
    invoice = make_invoice(customer)
    issued = link_create(customer=customer, actor=Actor.system(), document=invoice)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/p/{issued.token}/")
    expect(page.locator("#pay")).to_contain_text("pay@maple.example")
    expect(page.locator("#pay")).to_contain_text("Online payment is not available")
    assert page.locator("#pay-button").count() == 0
    page.screenshot(path=f"{SHOTS}/portal-no-stripe-390.png", full_page=True)
    assert _blocked(csp_violations) == []


def test_the_pay_page_is_usable_with_the_keyboard_alone(
    live_server, page, customer, connected, live_stripe, csp_violations
):
    connected.allow_partial_payments = True
    connected.save()
    invoice = make_invoice(customer)
    issued = link_create(customer=customer, actor=Actor.system(), document=invoice)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}{reverse('portal:pay', args=[issued.token])}")
    page.screenshot(path=f"{SHOTS}/portal-pay-page-1280.png", full_page=True)
    page.get_by_label("Part of it").focus()
    page.keyboard.press("Space")
    page.get_by_label("Amount to pay").fill("300")
    page.get_by_role("button", name="Continue to payment").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"^{re.escape(live_stripe.url)}/pay/cs_"))
    expect(page.locator("#amount")).to_have_text("$300.00 CAD")
    assert _blocked(csp_violations) == []
