"""In real Chromium: a customer tips 15 % and saves their card; the contractor turns on autopay
and the next invoice is charged on its due date with a receipt; a misapplied payment is moved
to the right invoice."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django.utils.csp import CSP
from playwright.sync_api import expect

from billing import services
from billing.models import Payment, PaymentMethod, PaymentStatus, SavedCard
from billing.services import autopay
from crewcommand.lib.activity import Actor
from documents.models import Invoice, InvoiceStatus
from portal.services import link_create
from tests.browser import PHONE
from tests.factories import InvoiceFactory

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SHOTS = "/tmp/billing-shots"


@pytest.fixture
def live_stripe(live_server, settings, stripe_on, connected):
    settings.SITE_URL = live_server.url
    settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": [CSP.SELF, stripe_on.url]}
    stripe_on.webhook_url = live_server.url + "/webhooks/stripe/"
    connected.tips_enabled = True
    connected.save()
    return stripe_on


def _login(browser, live_server, member):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}{reverse('login')}")
    page.get_by_label("Email").fill(member.user.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/app/$"))
    return page


def test_tip_save_card_autopay(live_server, page, browser, owner, customer, job, live_stripe):
    invoice = InvoiceFactory(customer=customer, job=job)
    issued = link_create(customer=customer, actor=Actor.system(), document=invoice)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/p/{issued.token}/invoices/{invoice.public_id}/")
    page.locator("#pay-button").click()  # tips on: the pay page, where a tip can be added
    page.wait_for_url(re.compile(r"/pay/invoices/"))
    page.get_by_label("15 %").check()
    page.get_by_label(re.compile("Save this card for future invoices from")).check()
    page.screenshot(path=f"{SHOTS}/tip-save-card-390.png", full_page=True)
    page.locator("#pay-button").click()
    page.wait_for_url(re.compile(rf"^{re.escape(live_stripe.url)}/pay/cs_"))
    expect(page.locator("#line-items")).to_contain_text("Tip for")
    expect(page.locator("#amount")).to_have_text("$1,559.40 CAD")
    page.locator("#pay").click()
    expect(page.locator('[data-state="paid"]')).to_be_visible(timeout=15_000)
    payment = Payment.objects.get(invoice=invoice)
    assert payment.tip_amount == Decimal("203.40") and payment.amount == Decimal("1356.00")
    assert Invoice.objects.get(pk=invoice.pk).balance == 0
    card = SavedCard.objects.get(customer=customer)

    office = _login(browser, live_server, owner)
    office.goto(
        f"{live_server.url}{reverse('billing_dashboard:customer_autopay', args=[customer.public_id])}"
    )
    expect(office.locator("main")).to_contain_text(card.label)
    office.get_by_label(re.compile("Charge this customer's sent invoices")).check()
    office.locator("#save-autopay").click()
    expect(office.locator("body")).to_contain_text("Autopay saved.")
    expect(office.get_by_label(re.compile("Charge this customer's sent invoices"))).to_be_checked()
    assert SavedCard.objects.get(pk=card.pk).autopay
    office.screenshot(path=f"{SHOTS}/autopay-on-1280.png", full_page=True)

    later = InvoiceFactory(customer=customer, job=job)
    Invoice.objects.filter(pk=later.pk).update(due_date=timezone.localdate())
    mail.outbox.clear()
    assert autopay.autopay_due() == 1
    assert Invoice.objects.get(pk=later.pk).status == InvoiceStatus.PAID
    assert any(m.to == [customer.email] for m in mail.outbox)  # the receipt
    office.reload()
    expect(office.locator("main")).to_contain_text("Autopay (due date)")

    office.goto(f"{live_server.url}{reverse('billing_dashboard:tips')}")
    expect(office.locator("#total-tips")).to_have_text("$203.40")


def test_a_misapplied_payment_is_moved(live_server, browser, owner, customer, job, stripe_on):
    wrong = InvoiceFactory(customer=customer, job=job)
    right = InvoiceFactory(customer=customer, job=job)
    payment = services.payment_record(
        actor=Actor.member(owner.user),
        invoice=wrong,
        amount=Decimal("1356.00"),
        method=PaymentMethod.CHEQUE,
        received_on=timezone.localdate(),
    )
    office = _login(browser, live_server, owner)
    office.goto(
        f"{live_server.url}{reverse('billing_dashboard:payment_detail', args=[payment.public_id])}"
    )
    office.get_by_role("link", name="Move to another invoice").click()
    office.get_by_label("Move it to").select_option(right.public_id)
    office.get_by_label(re.compile("Why")).fill("Paid the wrong invoice")
    office.screenshot(path=f"{SHOTS}/move-payment-1280.png", full_page=True)
    office.get_by_role("button", name="Move the payment").click()
    expect(office.locator("body")).to_contain_text(f"Payment moved to {right.display_number}")
    assert Payment.objects.get(pk=payment.pk).invoice_id == right.pk
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED
    assert Invoice.objects.get(pk=wrong.pk).balance == Decimal("1356.00")
    assert Invoice.objects.get(pk=right.pk).status == InvoiceStatus.PAID


def test_the_new_pages_have_no_serious_accessibility_violations(
    live_server, browser, owner, customer, job, live_stripe
):
    from django.conf import settings
    from django.test import Client

    from tests.test_accessibility import serious_violations

    invoice = InvoiceFactory(customer=customer, job=job)
    issued = link_create(customer=customer, actor=Actor.system(), document=invoice)
    payment = services.payment_record(
        actor=Actor.member(owner.user),
        invoice=invoice,
        amount=Decimal("100.00"),
        method=PaymentMethod.CHEQUE,
        received_on=timezone.localdate(),
    )
    InvoiceFactory(customer=customer, job=job)  # somewhere to move it
    staff = Client()
    staff.force_login(owner.user)
    cookie = staff.cookies[settings.SESSION_COOKIE_NAME]
    context = browser.new_context(bypass_csp=True, viewport=PHONE)  # axe is injected
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    page = context.new_page()
    for url in [
        f"/p/{issued.token}/pay/invoices/{invoice.public_id}/",
        f"/p/{issued.token}/pay/card/",
        reverse("billing_dashboard:tips"),
        reverse("billing_dashboard:customer_autopay", args=[customer.public_id]),
        reverse("billing_dashboard:payment_move", args=[payment.public_id]),
        reverse("billing_dashboard:stripe"),
    ]:
        page.goto(live_server.url + url, wait_until="networkidle")
        assert not serious_violations(page), url
    context.close()
