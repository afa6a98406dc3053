"""In real Chromium at a phone-sized viewport: a customer opens a link, picks options, draws a
signature with the pointer and signs; the contractor sees *accepted* with the audit trail; the
signed PDF's certificate shows the hash and the verify command confirms it. Also: signing with
the keyboard only, and the link email through a real Celery worker."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from playwright.sync_api import expect
from pypdf import PdfReader

from crewcommand.lib.activity import Actor
from documents.models import EstimateStatus
from portal import services
from portal.models import Signature
from tests.browser import PHONE
from tests.factories import EstimateFactory
from tests.portal.helpers import issue
from tests.worker import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _draw(page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.1, y + h * 0.6)
    page.mouse.down()
    for i in range(1, 31):
        page.mouse.move(x + w * (0.1 + 0.025 * i), y + h * (0.6 - 0.3 * ((i % 10) / 10)), steps=2)
    page.mouse.up()
    page.mouse.move(x + w * 0.2, y + h * 0.8)
    page.mouse.down()
    page.mouse.move(x + w * 0.8, y + h * 0.75, steps=10)
    page.mouse.up()


def _money(text: str) -> str:
    return text.replace("\xa0", " ").strip()


def test_customer_signs_on_a_phone_and_the_contractor_sees_it(
    live_server, page, browser, owner, customer, csp_violations, tmp_path, capsys
):
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/p/{issued.token}/")
    page.wait_for_url(re.compile(rf"/estimates/{estimate.public_id}/$"))
    assert page.get_by_role("heading", name=f"Estimate {estimate.display_number}").is_visible()
    assert _money(page.locator("#sticky-total").inner_text()) == "$2,457.75"

    # Options: the tankless heater instead of the tank, plus the softener. Totals follow (htmx).
    page.get_by_label(re.compile("Tankless heater")).check()
    expect(page.locator("#sticky-total")).to_contain_text("4,084.95")
    page.get_by_label(re.compile("Water softener")).check()
    expect(page.locator("#sticky-total")).to_contain_text("5,435.30")
    assert "5,435.30" in page.locator("#totals").inner_text().replace("\xa0", " ")

    page.get_by_label("Your full name").fill("Alice Tremblay")
    assert page.get_by_label("Draw my signature").is_checked()  # the default with JavaScript
    page.locator("[data-sign-canvas]").scroll_into_view_if_needed()
    # An empty pad is refused in the browser.
    page.get_by_label(re.compile("I agree to sign this estimate electronically")).check()
    page.get_by_role("button", name="Accept and sign").click()
    assert page.locator("[data-sign-error]").is_visible()
    _draw(page, "[data-sign-canvas]")
    page.screenshot(path=str(tmp_path / "phone-before-signing.png"), full_page=True)
    page.get_by_role("button", name="Accept and sign").click()
    page.get_by_text("Signed by Alice Tremblay").wait_for()
    page.screenshot(path=str(tmp_path / "phone-signed.png"), full_page=True)

    estimate.refresh_from_db()
    signature = Signature.objects.get(estimate=estimate)
    assert estimate.status == EstimateStatus.ACCEPTED
    assert signature.method == "drawn" and signature.image_svg.count("<path") >= 2
    assert "Added: Water softener" in signature.selection_summary
    assert "Water heater: Tankless heater" in signature.selection_summary
    assert '"total":"5435.30"' in signature.canonical_json

    # The contractor's dashboard: accepted, with the audit trail.
    contractor = browser.new_context(viewport={"width": 1280, "height": 900})
    office = contractor.new_page()
    office.goto(f"{live_server.url}{reverse('login')}")
    office.get_by_label("Email").fill(owner.user.username)
    office.get_by_label("Password").fill("correct-horse-battery")
    office.get_by_role("button", name="Log in").click()
    office.wait_for_url(re.compile(r"/app/$"))
    office.goto(
        f"{live_server.url}{reverse('portal_dashboard:links_panel', args=['estimate', estimate.public_id])}"
    )
    panel = office.locator(".portal-panel")
    assert panel.locator(".badge-accepted").inner_text() == "Accepted"
    text = panel.inner_text()
    for expected in (
        "Signature audit trail",
        "Alice Tremblay",
        signature.content_sha256,
        issued.link.reference,
    ):
        assert expected in text
    office.get_by_role("link", name="Verify signature").click()
    office.get_by_text(
        "Verified: the signature record and the signed content are unchanged."
    ).wait_for()
    office.screenshot(path=str(tmp_path / "dashboard-panel.png"), full_page=True)

    pdf_url = reverse("portal_dashboard:signature_pdf", args=[signature.public_id])
    signed_pdf = contractor.request.get(f"{live_server.url}{pdf_url}").body()
    pages = PdfReader(io.BytesIO(signed_pdf)).pages
    certificate = pages[-1].extract_text().replace("\n", "")
    assert signature.content_sha256 in certificate and "Alice Tremblay" in certificate

    # The contractor renames the customer and moves their address: the signed PDF stays as signed.
    office.goto(f"{live_server.url}{reverse('dashboard:customer_edit', args=[customer.public_id])}")
    office.get_by_label("Name").fill("Bob Forger")
    office.get_by_label("Service address").fill("99 Other Road")
    office.get_by_role("button", name=re.compile("Save")).click()
    office.get_by_text("Customer saved.").wait_for()
    customer.refresh_from_db()
    assert customer.name == "Bob Forger"
    after = contractor.request.get(f"{live_server.url}{pdf_url}").body()
    (tmp_path / "signed-after-edit.pdf").write_bytes(after)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(after)).pages)
    assert "Alice Tremblay" in text and "Bob Forger" not in text and "99 Other Road" not in text
    office.goto(
        f"{live_server.url}{reverse('portal_dashboard:links_panel', args=['estimate', estimate.public_id])}"
    )
    office.get_by_role("link", name="Verify signature").click()
    office.get_by_text(
        "Verified: the signature record and the signed content are unchanged."
    ).wait_for()
    call_command("verify_signature", signature.public_id)
    assert f"OK {signature.public_id}" in capsys.readouterr().out

    # Someone with database access rewrites the signer's IP: the panel and the command say so.
    Signature.objects.filter(pk=signature.pk).update(ip_address="198.51.100.66")
    office.get_by_role("link", name="Verify signature").click()
    office.get_by_text(
        "Mismatch: this signature record no longer matches what was signed."
    ).wait_for()
    office.screenshot(path=str(tmp_path / "dashboard-mismatch.png"), full_page=True)
    contractor.close()
    with pytest.raises(CommandError):
        call_command("verify_signature", signature.public_id)
    assert f"MISMATCH {signature.public_id}" in capsys.readouterr().out
    assert not [e for e in csp_violations if "Content Security Policy" in e], csp_violations


def test_a_keyboard_only_customer_signs_with_the_typed_name(
    live_server, page, customer, csp_violations
):
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    page.set_viewport_size(PHONE)
    page.goto(
        f"{live_server.url}{reverse('portal:estimate', args=[issued.token, estimate.public_id])}"
    )
    page.get_by_label("Your full name").focus()
    page.keyboard.type("Alice Tremblay")
    page.keyboard.press("Tab")  # the method radios
    page.keyboard.press("ArrowDown")  # → "Use my typed name"
    assert page.get_by_label("Use my typed name as my signature").is_checked()
    assert page.locator("[data-sign-preview]").inner_text() == "Alice Tremblay"
    assert not page.locator("[data-sign-canvas]").is_visible()
    consent = page.get_by_label(re.compile("I agree to sign"))
    consent.focus()
    page.keyboard.press("Space")
    assert consent.is_checked()
    page.get_by_role("button", name="Accept and sign").focus()
    page.keyboard.press("Enter")
    page.get_by_text("Signed by Alice Tremblay").wait_for()
    assert Signature.objects.get(estimate=estimate).method == "typed"
    assert not [e for e in csp_violations if "Content Security Policy" in e], csp_violations


@pytest.mark.worker
@pytest.mark.postgres
def test_the_link_email_goes_through_a_real_worker_sealed(celery_worker_process, customer):
    estimate = EstimateFactory(customer=customer)
    link = services.share_document(document=estimate, actor=Actor.system())
    mail_dir = celery_worker_process["mail_dir"]

    def email_written():
        texts = [p.read_text() for p in mail_dir.glob("*.log")]
        return [t for t in texts if "-" * 79 in t and customer.email in t]

    (message,) = wait_for(email_written)
    token = re.search(r"/p/([A-Za-z0-9_-]{43})/", message).group(1)
    from portal.tokens import token_hash

    assert token_hash(token) == link.token_hash
    assert token not in celery_worker_process["log"].read_text()


def test_the_dashboard_badge_and_panel_update_without_a_reload(
    live_server, page, browser, owner, customer
):
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    page.goto(f"{live_server.url}{reverse('login')}")
    page.get_by_label("Email").fill(owner.user.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/app/$"))
    page.goto(
        f"{live_server.url}{reverse('portal_dashboard:links_panel', args=['estimate', estimate.public_id])}"
    )
    expect(page.locator(".portal-status .badge")).to_have_text("Sent")
    page.evaluate("() => { window.__notReloaded = true; }")
    services.document_mark_viewed(document=estimate, link=issued.link)
    expect(page.locator(".portal-status .badge")).to_have_text("Viewed", timeout=15_000)
    from tests.portal.helpers import sign

    sign(estimate, issued)
    expect(page.locator(".portal-status .badge")).to_have_text("Accepted", timeout=15_000)
    expect(page.get_by_text("Signature audit trail")).to_be_visible(timeout=5_000)
    assert page.evaluate("() => window.__notReloaded === true")
