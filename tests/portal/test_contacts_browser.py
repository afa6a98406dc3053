"""Issue 18 in real Chromium at phone size (390 px): the contractor adds a second contact on the
customer page (htmx), sends an estimate to both from the Send dialog; the second contact, who
prefers texts, gets the link by SMS (the real twilio SDK against tests/fakes' Twilio), asks for
a one-time code (htmx), reads it from the fake SMS, and signs. The signed PDF's certificate
names the contact and the channel the code went by. The first contact's link is revoked from
the links panel while the second's still works. Outbox messages are sent inline after commit,
as in the other end-to-end tests."""

from __future__ import annotations

import io
import re

import pytest
from django.core import mail
from playwright.sync_api import expect
from pypdf import PdfReader

from crewcommand.models import Contact
from portal.models import PortalLink, Signature
from tests.browser import PHONE
from tests.factories import EstimateFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BEN_PHONE = "+14165550188"


@pytest.fixture
def twilio_on(settings, fake_twilio, company):
    settings.TWILIO_ACCOUNT_SID = fake_twilio.account_sid
    settings.TWILIO_AUTH_TOKEN = fake_twilio.auth_token
    settings.TWILIO_ENABLED = True
    settings.TWILIO_API_BASE = fake_twilio.url
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    company.quiet_hours_start = company.quiet_hours_end  # no quiet hours for this test
    company.step_up_required = True
    company.save()
    return fake_twilio


def _last_text(fake, number: str) -> str:
    texts = fake.sent_to(number)
    assert texts, f"no text to {number}"
    return texts[-1]["body"]


def test_two_contacts_one_signs_with_a_code_and_the_others_link_is_revoked(
    live_server, page, browser, login_as, owner, customer, twilio_on, csp_violations, tmp_path
):
    from django.core.cache import cache

    cache.clear()
    estimate = EstimateFactory(customer=customer, sent=False)
    office = login_as(owner)
    office.set_viewport_size(PHONE)

    # The customer page: add Ben (htmx form in the contacts panel).
    office.goto(live_server.url + customer.get_absolute_url())
    panel = office.locator("#contacts-panel")
    panel.get_by_role("link", name="Add a contact").click()
    panel.get_by_role("textbox", name=re.compile("^Name")).fill("Ben Tremblay")
    panel.get_by_label("Role").select_option("spouse")
    panel.get_by_role("textbox", name=re.compile("^Email")).fill("ben@example.com")
    panel.get_by_role("textbox", name=re.compile("^Mobile phone")).fill("416 555 0188")
    panel.get_by_label("Preferred channel").select_option("sms")
    panel.get_by_role("button", name="Save contact").click()
    expect(office.locator("#contacts-panel")).to_contain_text("Contact Ben Tremblay added.")
    ben = Contact.objects.get(name="Ben Tremblay")
    assert ben.phone == BEN_PHONE and ben.preferred_channel == "sms"
    office.screenshot(path=str(tmp_path / "contacts-390.png"), full_page=True)

    # Send the estimate to both.
    office.goto(live_server.url + estimate.get_absolute_url())
    office.get_by_role("button", name="Send", exact=True).click()
    dialog = office.get_by_role("dialog")
    expect(dialog).to_contain_text("Ben Tremblay")
    dialog.get_by_label(re.compile("Ben Tremblay")).check()
    assert dialog.get_by_label(re.compile("Alice Tremblay")).is_checked()
    assert office.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    office.screenshot(path=str(tmp_path / "send-two-390.png"), full_page=True)
    dialog.get_by_role("button", name="Send", exact=True).click()
    expect(office.locator("h1")).to_contain_text("Sent", timeout=15_000)

    # Alice's link by email; the automations' SMS companion made one more for her phone.
    alice_link = PortalLink.objects.get(
        estimate=estimate, contact__is_primary=True, channel="email"
    )
    ben_link = PortalLink.objects.get(estimate=estimate, contact=ben)
    assert ben_link.channel == "sms" and ben_link.sent_to == BEN_PHONE
    [alice_mail] = [m for m in mail.outbox if estimate.display_number in m.subject]
    assert alice_mail.to == [customer.email]
    alice_url = re.search(r"https?://\S+/p/[^/\s]+/", alice_mail.body).group(0)
    ben_url = re.search(r"https?://\S+/p/[^/\s]+/", _last_text(twilio_on, BEN_PHONE)).group(0)
    alice_path = "/" + alice_url.split("://", 1)[1].split("/", 1)[1]
    ben_path = "/" + ben_url.split("://", 1)[1].split("/", 1)[1]

    # Ben, on his phone: his link, a code by SMS, then he signs.
    customer_page = browser.new_context(viewport=PHONE).new_page()
    customer_page.goto(live_server.url + ben_path)
    customer_page.wait_for_url(re.compile(rf"/estimates/{estimate.public_id}/$"))
    customer_page.get_by_label("Your full name").fill("Ben Tremblay")
    customer_page.get_by_label("Use my typed name as my signature").check()
    customer_page.get_by_label(re.compile("I agree to sign this estimate electronically")).check()
    customer_page.get_by_role("button", name="Send me a code").click()
    expect(customer_page.locator("#code-status")).to_contain_text(
        "We texted a 6-digit code to •••• 0188"
    )
    code = re.search(r"\b(\d{6})\b", _last_text(twilio_on, BEN_PHONE)).group(1)
    # A wrong code first: a clear message, nothing signed, what was typed is kept.
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    customer_page.get_by_label("Code we sent you").fill(wrong)
    customer_page.get_by_role("button", name="Accept and sign").last.click()
    expect(customer_page.locator("#step-up")).to_contain_text("That code is not right.")
    assert not Signature.objects.exists()
    customer_page.get_by_label(re.compile("I agree to sign this estimate electronically")).check()
    customer_page.get_by_label("Code we sent you").fill(code)
    customer_page.screenshot(path=str(tmp_path / "code-390.png"), full_page=True)
    customer_page.get_by_role("button", name="Accept and sign").last.click()
    customer_page.get_by_text("Signed by Ben Tremblay").wait_for()
    signature = Signature.objects.get(estimate=estimate)
    assert signature.contact == ben and signature.step_up_channel == "sms"

    # The certificate names the contact and the channel the code went by.
    from django.urls import reverse

    pdf_url = reverse("portal_dashboard:signature_pdf", args=[signature.public_id])
    pdf = office.context.request.get(live_server.url + pdf_url).body()
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    certificate = " ".join(text.split("Certificate of electronic signature", 1)[1].split())
    assert f"{ben_link.reference} · given to Ben Tremblay, contact on file" in certificate
    assert "One-time code sent by text message (SMS), verified" in certificate

    # The contractor revokes Alice's link from the links panel; Ben's still works.
    office.on("dialog", lambda d: d.accept())
    office.goto(
        live_server.url
        + reverse("portal_dashboard:links_panel", args=["estimate", estimate.public_id])
    )
    row = office.locator("tr", has_text=alice_link.reference)
    expect(row).to_contain_text("For Alice Tremblay")
    row.get_by_role("button", name=re.compile("Revoke")).click()
    expect(office.locator("tr", has_text=alice_link.reference)).to_contain_text("Revoked")
    alice_link.refresh_from_db()
    ben_link.refresh_from_db()
    assert alice_link.revoked_at is not None and ben_link.revoked_at is None

    alice = browser.new_context(viewport=PHONE).new_page()
    answer = alice.goto(live_server.url + alice_path)
    assert answer.status == 404
    expect(alice.locator("main")).to_contain_text("Maple Plumbing")
    again = customer_page.goto(live_server.url + ben_path)
    customer_page.wait_for_url(re.compile(rf"/estimates/{estimate.public_id}/$"))
    assert again.ok or again.status in (301, 302)
    expect(customer_page.get_by_text("Signed by Ben Tremblay")).to_be_visible()
    assert not [e for e in csp_violations if "Content Security Policy" in e], csp_violations
