"""Issue 18, points 3 and 4, in real Chromium at phone size (390 px): an old paid invoice's
link has expired and a fresh link reaches the customer on file; the contractor previews a
document as the customer, and nothing in the preview signs or pays.

Screenshots go to ``$CC_SCREENSHOTS`` when set, else to the test's temporary directory."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from documents.models import Estimate, EstimateStatus, Invoice, InvoiceStatus
from portal.models import PortalLink
from tests.factories import EstimateFactory, InvoiceFactory, PaymentFactory
from tests.portal.helpers import issue
from tests.test_accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("CC_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def test_an_old_paid_invoices_link_expired_and_a_fresh_one_reaches_the_customer(
    live_server, page, customer, csp_violations, shots
):
    invoice = InvoiceFactory(customer=customer)
    issued = issue(customer, invoice, expires_at=None)
    PaymentFactory(invoice=invoice, amount=invoice.total)
    Invoice.objects.filter(pk=invoice.pk).update(paid_at=timezone.now() - dt.timedelta(days=120))
    mail.outbox.clear()  # the receipt and the office's notice
    page.set_viewport_size(PHONE)

    page.goto(f"{live_server.url}/p/{issued.token}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    assert invoice.display_number not in page.content()
    page.get_by_label("Your email address or mobile number").fill(customer.email)
    page.get_by_role("button", name="Send me a fresh link").click()
    expect(page.locator("#fresh-link-sent")).to_contain_text("a fresh link is on its way")
    _no_sideways_scroll(page)
    page.screenshot(path=str(shots / "18-expired-paid-invoice-390.png"), full_page=True)

    # The email went to the address on file, and its link opens the paid invoice again.
    assert [m.to for m in mail.outbox] == [[customer.email]]
    url = re.search(r"https?://\S+/p/[\w-]+/", mail.outbox[0].body).group(0)
    page.goto(live_server.url + url[url.index("/p/") :])
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Invoice {invoice.display_number}")
    expect(page.locator(".portal-paid-mark")).to_have_text("PAID")
    _no_sideways_scroll(page)
    page.screenshot(path=str(shots / "18-fresh-link-invoice-390.png"), full_page=True)
    assert PortalLink.objects.filter(channel="fresh", sent_to=customer.email).count() == 1
    assert not [e for e in csp_violations if "Content Security Policy" in e], csp_violations


def test_the_contractor_previews_an_estimate_as_the_customer(
    live_server, page, login_as, owner, customer, csp_violations, shots
):
    estimate = EstimateFactory(customer=customer)
    invoice = InvoiceFactory(customer=customer)
    login_as(owner)
    links = list(PortalLink.objects.values_list("pk", "channel", "view_count"))
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + estimate.get_absolute_url())
    page.get_by_role("link", name="Preview as customer").click()
    page.wait_for_url(re.compile(r"/app/portal/preview/estimate/"))
    banner = page.get_by_role("region", name=re.compile("Preview"))
    expect(banner).to_contain_text("Preview — this is what Alice Tremblay sees")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Estimate {estimate.display_number}")
    # The customer's sign section is there to see, and nothing in it answers.
    sign = page.locator("[data-sign-submit]")
    expect(sign).to_be_visible()
    assert page.locator("main").get_attribute("inert") is not None
    sign.click(force=True)
    page.get_by_role("link", name="Ask for changes").click(force=True)
    page.wait_for_timeout(300)
    assert "/app/portal/preview/estimate/" in page.url
    assert Estimate.objects.get(pk=estimate.pk).status == EstimateStatus.SENT
    assert list(PortalLink.objects.values_list("pk", "channel", "view_count")) == links
    _no_sideways_scroll(page)
    page.screenshot(path=str(shots / "18-preview-estimate-390.png"), full_page=True)

    page.goto(
        live_server.url + reverse("portal_dashboard:preview", args=["invoice", invoice.public_id])
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Invoice {invoice.display_number}")
    page.screenshot(path=str(shots / "18-preview-invoice-390.png"), full_page=True)
    page.get_by_role("link", name=f"Back to {invoice.display_number}").click()
    page.wait_for_url(re.compile(invoice.get_absolute_url()))
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.SENT
    assert not [e for e in csp_violations if "Content Security Policy" in e], csp_violations


def test_the_preview_has_no_serious_accessibility_violations(live_server, browser, owner, customer):
    from django.conf import settings
    from django.test import Client

    estimate = EstimateFactory(customer=customer)
    client = Client()
    client.force_login(owner.user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context = browser.new_context(bypass_csp=True, viewport=PHONE, locale="en-CA")
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    page = context.new_page()
    url = reverse("portal_dashboard:preview", args=["estimate", estimate.public_id])
    page.goto(live_server.url + url, wait_until="networkidle")
    assert serious_violations(page) == []
    context.close()


@pytest.mark.parametrize("size", [PHONE, {"width": 1280, "height": 900}], ids=["390", "1280"])
def test_the_contractor_sees_the_planned_expiry_and_extends_it_from_the_panel(
    live_server, page, login_as, owner, customer, csp_violations, shots, size
):
    invoice = InvoiceFactory(customer=customer)
    issued = issue(customer, invoice, expires_at=None)
    PaymentFactory(invoice=invoice, amount=invoice.total)
    Invoice.objects.filter(pk=invoice.pk).update(paid_at=timezone.now() - dt.timedelta(days=100))
    login_as(owner)
    page.set_viewport_size(size)
    page.goto(live_server.url + invoice.get_absolute_url())
    panel = page.locator(".portal-panel")
    expect(panel).to_contain_text("Expired")
    expect(panel).to_contain_text("(the invoice is closed)")
    # (caret="initial": hiding the caret injects a style the dashboard's CSP refuses.)
    shot = {"full_page": True, "caret": "initial"}
    page.screenshot(path=str(shots / f"18-panel-expired-{size['width']}.png"), **shot)
    panel.get_by_role("button", name=f"+90 days {issued.link.reference}").click()
    expect(panel.locator("tbody")).to_contain_text("Expires")
    expect(panel.locator(".badge").filter(has_text="Active")).to_be_visible()
    page.screenshot(path=str(shots / f"18-panel-extended-{size['width']}.png"), **shot)
    assert PortalLink.objects.get(pk=issued.link.pk).is_usable()
    _no_sideways_scroll(page)
    assert not [e for e in csp_violations if "Content Security Policy" in e], csp_violations
