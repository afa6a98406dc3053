"""In real Chromium: a customer opens the invoice link on a phone, taps Pay, pays on the fake
Stripe's hosted page (which redirects back and fires the signed webhook, like Stripe), and
both the portal and the dashboard show *paid*, with a receipt sent."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils.csp import CSP
from playwright.sync_api import expect

from billing.models import Payment, PaymentStatus
from crewcommand.lib.activity import Actor
from documents.models import Invoice, InvoiceStatus
from portal.services import link_create
from tests.browser import PHONE
from tests.factories import EstimateFactory, InvoiceFactory

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
    page.get_by_label("Email").fill(member.user.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/app/$"))
    return page


def test_customer_pays_an_invoice_in_two_taps_and_everyone_sees_paid(
    live_server, page, browser, owner, customer, connected, live_stripe, csp_violations
):
    invoice = InvoiceFactory(customer=customer)
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
    invoice = InvoiceFactory(customer=customer)
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
    invoice = InvoiceFactory(customer=customer)
    issued = link_create(customer=customer, actor=Actor.system(), document=invoice)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}{reverse('billing_portal:pay', args=[issued.token])}")
    page.screenshot(path=f"{SHOTS}/portal-pay-page-1280.png", full_page=True)
    page.get_by_label("Part of it").focus()
    page.keyboard.press("Space")
    page.get_by_label("Amount to pay").fill("300")
    page.get_by_role("button", name="Continue to payment").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"^{re.escape(live_stripe.url)}/pay/cs_"))
    expect(page.locator("#amount")).to_have_text("$300.00 CAD")
    assert _blocked(csp_violations) == []


def _tokens_in(text: str) -> list[str]:
    return re.findall(r"/p/([A-Za-z0-9_-]{43})/", text)


def test_journey_signed_options_to_a_lost_webhook_payment_with_no_double_charge(
    live_server, page, browser, owner, customer, connected, live_stripe, settings, caplog
):
    """Sign with non-default options → convert → pay while the webhook never arrives and
    Stripe does not answer the return page → the portal says "being confirmed" and will not
    charge again without an explicit yes → reconciliation records it → paid. Afterwards no
    raw token in a dump of the database or in the logs."""
    import logging

    from billing.tasks import reconcile_returned_payments
    from tests.billing.test_no_tokens_at_rest import database_dump
    from tests.portal.helpers import issue

    caplog.set_level(logging.INFO)
    live_stripe.webhook_url = None  # Stripe's webhook never reaches us
    estimate = EstimateFactory(customer=customer)
    estimate_link = issue(customer, estimate)

    # The customer signs with options other than the defaults.
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/p/{estimate_link.token}/")
    page.get_by_label(re.compile("Tankless heater")).check()
    page.get_by_label(re.compile("Water softener")).check()
    expect(page.locator("#sticky-total")).to_contain_text("5,435.30")
    page.get_by_label("Your full name").fill("Alice Tremblay")
    page.get_by_label("Use my typed name as my signature").check()
    page.get_by_label(re.compile("I agree to sign")).check()
    page.get_by_role("button", name="Accept and sign").click()
    page.get_by_text("Signed by Alice Tremblay").wait_for()

    # The contractor converts it and sends the invoice (its link goes out by email).
    office = _login(browser, live_server, owner)
    office.goto(f"{live_server.url}{estimate.get_absolute_url()}")
    office.get_by_role("button", name="Convert to invoice").click()
    office.wait_for_url(re.compile(r"/invoices/[a-z0-9]{14}/$"))
    invoice = Invoice.objects.get(estimate=estimate)
    assert invoice.total == Decimal("5435.30")
    office.get_by_role("button", name="Send").first.click()
    office.get_by_role("dialog").get_by_role("button", name=re.compile("^Send to ")).click()
    expect(office.locator("#invoice-status")).to_contain_text("Sent")
    (email,) = [
        m for m in mail.outbox if m.to == [customer.email] and invoice.display_number in m.subject
    ]
    (invoice_token,) = set(_tokens_in(email.body))

    # The customer pays; Stripe's API is unreachable when they come back.
    page.goto(f"{live_server.url}/p/{invoice_token}/")
    expect(page.locator("#pay-button")).to_have_text("Pay $5,435.30")
    page.locator("#pay-button").click()
    page.wait_for_url(re.compile(rf"^{re.escape(live_stripe.url)}/pay/cs_"))
    expect(page.locator("#amount")).to_have_text("$5,435.30 CAD")
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    page.locator("#pay").click()
    page.wait_for_url(re.compile(r"/pay/[a-z0-9]{14}/done/\?session_id=cs_"))
    assert invoice_token not in page.url
    expect(page.locator('[data-state="confirming"]')).to_be_visible()
    page.screenshot(path=f"{SHOTS}/journey-confirming-390.png", full_page=True)
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.CREATED and payment.returned_at is not None

    # Back on the invoice: being confirmed, no Pay button.
    page.get_by_role("link", name="Back to your invoice").click()
    expect(page.locator('[data-state="being-confirmed"]')).to_contain_text(
        "Your payment of $5,435.30 started"
    )
    assert page.locator("#pay-button").count() == 0
    page.screenshot(path=f"{SHOTS}/journey-being-confirmed-390.png", full_page=True)

    # Paying again needs an explicit yes; without it nothing is started.
    page.get_by_role("link", name=re.compile("Pay again")).click()
    expect(page.locator('[data-state="unconfirmed"]')).to_contain_text(
        "is still being confirmed. Pay again anyway?"
    )
    page.screenshot(path=f"{SHOTS}/journey-pay-again-390.png", full_page=True)
    page.locator("#pay-button").click()
    expect(page.locator(".field-error")).to_contain_text("Tick the box")
    assert Payment.objects.count() == 1
    assert len(live_stripe.requests_to("/v1/checkout/sessions", "POST")) == 1

    # Stripe answers again; the frequent reconciliation records the payment.
    settings.STRIPE_API_BASE = live_stripe.url
    assert reconcile_returned_payments()["changed"] == 1
    page.goto(f"{live_server.url}/p/{invoice_token}/")
    expect(page.locator(".portal-paid-mark").first).to_be_visible()
    assert page.locator("#pay-button").count() == 0
    assert page.locator('[data-state="being-confirmed"]').count() == 0
    page.screenshot(path=f"{SHOTS}/journey-paid-390.png", full_page=True)
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    charges = [o for o in live_stripe.objects.values() if o.get("object") == "charge"]
    assert len(charges) == 1 and live_stripe.deliveries == []

    # No raw token at rest, nor in the logs.
    dump = database_dump()
    assert payment.stripe_session_id in dump
    for token in (estimate_link.token, invoice_token):
        assert dump.count(token) == 0
        assert not [r for r in caplog.records if token in r.getMessage()]
    assert caplog.records  # the logs were captured


def test_the_new_payment_pages_have_no_serious_accessibility_violations(
    live_server, browser, owner, customer, connected, live_stripe
):
    from django.test import Client
    from django.utils import timezone

    from tests.billing.conftest import start_checkout
    from tests.billing.test_manual_refunds_deposits import paid_by_card
    from tests.test_accessibility import serious_violations

    paid = paid_by_card(InvoiceFactory(customer=customer), connected, live_stripe)
    invoice = InvoiceFactory(customer=customer)
    waiting = start_checkout(invoice).payment
    Payment.objects.filter(pk=waiting.pk).update(returned_at=timezone.now())
    issued = link_create(customer=customer, actor=Actor.system(), document=invoice)
    staff = Client()
    staff.force_login(owner.user)
    cookie = staff.cookies[settings.SESSION_COOKIE_NAME]

    context = browser.new_context(bypass_csp=True, viewport=PHONE)  # axe is injected
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    page = context.new_page()
    base = live_server.url
    for url in [
        f"/p/{issued.token}/invoices/{invoice.public_id}/",
        f"/p/{issued.token}/pay/invoices/{invoice.public_id}/",
        f"/pay/{waiting.public_id}/done/?session_id={waiting.stripe_session_id}",
        f"/pay/{waiting.public_id}/cancelled/",
        reverse("billing_dashboard:refund", args=[paid.public_id]),
    ]:
        page.goto(base + url, wait_until="networkidle")
        assert not serious_violations(page), url
    page.get_by_label(re.compile("Goodwill refund")).check()
    page.get_by_role("button", name="Review the refund").click()
    page.get_by_text("Refund $1,356.00?").wait_for()
    assert not serious_violations(page)
    context.close()
