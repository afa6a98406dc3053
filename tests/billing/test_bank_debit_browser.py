"""In real Chromium: a customer pays an invoice by pre-authorized debit on the fake Stripe page,
sees *processing* (no Pay button), then *paid* when the async webhook arrives; and a bounced
debit puts the balance and the Pay button back, on both the customer's and the contractor's
side."""

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
from tests.browser import PHONE
from tests.factories import InvoiceFactory

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SHOTS = "/tmp/billing-shots"
PROCESSING = "Bank payment processing, usually 3\N{EN DASH}5 business days"


@pytest.fixture
def live_stripe(live_server, settings, stripe_on, connected):
    settings.SITE_URL = live_server.url
    settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": [CSP.SELF, stripe_on.url]}
    stripe_on.webhook_url = live_server.url + "/webhooks/stripe/"
    connected.accept_bank_debit = True
    connected.save()
    return stripe_on


def _pay_by_bank(page, live_server, live_stripe, customer):
    invoice = InvoiceFactory(customer=customer)
    issued = link_create(customer=customer, actor=Actor.system(), document=invoice)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/p/{issued.token}/")
    page.wait_for_url(re.compile(rf"/invoices/{invoice.public_id}/$"))
    page.locator("#pay-button").click()
    page.wait_for_url(re.compile(rf"^{re.escape(live_stripe.url)}/pay/cs_"))
    expect(page.locator("#pad-mandate")).to_contain_text("sporadic, personal")
    page.locator("#pay-bank").click()
    page.wait_for_url(re.compile(r"/pay/[a-z0-9]{14}/done/\?session_id=cs_"))
    expect(page.locator('[data-state="processing"]')).to_contain_text(PROCESSING, timeout=15_000)
    page.screenshot(path=f"{SHOTS}/bank-processing-done-390.png", full_page=True)
    invoice_url = f"{live_server.url}/p/{issued.token}/invoices/{invoice.public_id}/"
    page.goto(invoice_url)
    expect(page.locator("#pay")).to_contain_text(PROCESSING)
    expect(page.locator("#pay-button")).to_have_count(0)
    page.screenshot(path=f"{SHOTS}/bank-processing-invoice-390.png", full_page=True)
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.PROCESSING
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == 0
    return invoice, payment, invoice_url


def test_a_bank_debit_shows_processing_then_paid(
    live_server, page, owner, customer, live_stripe, csp_violations
):
    invoice, payment, invoice_url = _pay_by_bank(page, live_server, live_stripe, customer)
    live_stripe.settle_async_payment(payment.stripe_session_id)
    page.goto(invoice_url)
    expect(page.locator("main")).not_to_contain_text(PROCESSING)
    expect(page.locator(".portal-paid-mark")).to_have_text("PAID")
    expect(page.locator("#pay-button")).to_have_count(0)
    page.screenshot(path=f"{SHOTS}/bank-paid-invoice-390.png", full_page=True)
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert any("Pre-authorized debit" in m.body for m in mail.outbox)
    assert not [e for e in csp_violations if not e.startswith("Failed to load resource")]


def test_a_bounced_bank_debit_reopens_the_balance_for_both_sides(
    live_server, page, browser, owner, customer, live_stripe
):
    invoice, payment, invoice_url = _pay_by_bank(page, live_server, live_stripe, customer)
    live_stripe.settle_async_payment(payment.stripe_session_id, succeeded=False)
    page.goto(invoice_url)
    expect(page.locator("#pay-button")).to_have_text("Pay $1,356.00")
    expect(page.locator("main")).not_to_contain_text(PROCESSING)
    assert Invoice.objects.get(pk=invoice.pk).balance == invoice.total

    # The contractor's invoice page: the failed debit, the full balance due.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    office = context.new_page()
    office.goto(f"{live_server.url}{reverse('login')}")
    office.get_by_label("Email").fill(owner.user.username)
    office.get_by_label("Password").fill("correct-horse-battery")
    office.get_by_role("button", name="Log in").click()
    office.wait_for_url(re.compile(r"/app/$"))
    office.goto(f"{live_server.url}{invoice.get_absolute_url()}")
    panel = office.locator("#billing-panel")
    expect(panel).to_contain_text("Pre-authorized debit")
    expect(panel.locator("#billing-balance")).to_have_text("$1,356.00")
    office.screenshot(path=f"{SHOTS}/bank-failed-dashboard-1280.png", full_page=True)
    assert any("did not go through" in m.subject for m in mail.outbox)
    context.close()
