"""Send and Convert in real Chromium (issue 12, point 7): the email preview opens as a dialog, the
note typed there reaches the customer's email, and while Send or Convert runs the button is
disabled with a spinner, so a double click sends (or converts) once. The server is slowed by
holding the request in a Playwright route until the test has looked at the button; nothing is
mocked. Screenshots go to /tmp/i12b/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect

from documents.models import Estimate, EstimateStatus, Invoice
from portal.models import PortalLink
from tests.browser import PHONE
from tests.factories import EstimateFactory, SignedEstimateFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
SHOTS = Path("/tmp/i12b")
NOTE = "Thanks for having us over on Tuesday.\nThe valve is in stock: we can start Monday."


def _shot(page, name: str, *, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _hold(page, pattern: str, method: str = "POST") -> list:
    """Hold every ``method`` request whose URL ends with ``pattern`` until the test continues
    it: the server answers as late as the test wants, for real."""
    held: list = []
    seen: list = []

    def handler(route):
        if route.request.method == method:
            seen.append(route.request.url)
            held.append(route)
        else:
            route.continue_()

    page.route(re.compile(f".*{re.escape(pattern)}$"), handler)
    return held, seen


def _wait_held(page, held, count=1):
    for _ in range(200):
        if len(held) >= count:
            return
        page.wait_for_timeout(25)
    raise AssertionError("the request never left the browser")


WATCH_BUTTON = """(name) => {
  const button = [...document.querySelectorAll("button")].find(
    (b) => b.textContent.trim() === name
  );
  new MutationObserver(() => {
    const spinner = button.querySelector(".spinner");
    window.ccReport({
      disabled: button.disabled,
      busy: button.classList.contains("is-busy"),
      spinner: spinner ? getComputedStyle(spinner).display : "none",
    });
  }).observe(button, { attributes: true, subtree: true, childList: true });
}"""


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_send_previews_the_email_takes_a_note_and_sends_once(
    live_server, login_as, owner, customer, viewport, csp_violations
):
    estimate = EstimateFactory(customer=customer, sent=False)
    page = login_as(owner)
    page.set_viewport_size(viewport)
    width = viewport["width"]
    page.goto(live_server.url + estimate.get_absolute_url())

    page.get_by_role("button", name="Send", exact=True).click()
    dialog = page.get_by_role("dialog", name="Check the email, then send it")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(customer.email)
    expect(dialog).to_contain_text(f"Your estimate {estimate.display_number} from Maple Plumbing")
    expect(dialog).to_contain_text("Hello Alice Tremblay,")
    expect(dialog.locator(".email-link")).to_contain_text("/p/…/")
    assert not PortalLink.objects.exists()  # the preview made no link
    _no_sideways_scroll(page)
    _shot(page, f"preview-{width}")

    # Cancel closes it and sends nothing; Send opens a fresh one.
    dialog.get_by_role("link", name="Cancel", exact=True).click()
    expect(page.locator("dialog")).to_have_count(0)
    page.get_by_role("button", name="Send", exact=True).click()
    dialog = page.get_by_role("dialog")
    note = dialog.get_by_label("Personal note")
    expect(note).to_be_visible()
    note.fill(NOTE)
    _shot(page, f"preview-note-{width}")

    held, seen = _hold(page, "/send/")
    send = dialog.get_by_role("button", name=f"Send to {customer.email}")
    send.dblclick()
    _wait_held(page, held)
    # In flight: the button is disabled and its spinner shows.
    expect(send).to_be_disabled()
    expect(send.locator(".spinner")).to_be_visible()
    _shot(page, f"sending-{width}")
    send.click(force=True)  # a third press while it runs
    page.wait_for_timeout(200)
    assert len(seen) == 1, seen
    held[0].continue_()

    expect(page.locator(".toast-success")).to_contain_text("Estimate sent.")
    expect(page.locator("dialog")).to_have_count(0)
    (message,) = mail.outbox
    assert message.to == [customer.email]
    assert NOTE in message.body
    assert message.subject == f"Your estimate {estimate.display_number} from Maple Plumbing"
    assert Estimate.objects.get(pk=estimate.pk).status == EstimateStatus.SENT
    expect(page.locator(".timeline")).to_contain_text("with a note")
    _shot(page, f"sent-{width}", full_page=True)
    assert not [e for e in csp_violations if "Content Security Policy" in e], csp_violations


def test_a_bad_note_gets_a_message_in_the_dialog_and_nothing_is_sent(
    live_server, login_as, owner, customer
):
    estimate = EstimateFactory(customer=customer, sent=False)
    page = login_as(owner)
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + estimate.get_absolute_url())
    page.get_by_role("button", name="Send", exact=True).click()
    dialog = page.get_by_role("dialog")
    note = dialog.get_by_label("Personal note")
    note.fill("Call me \u202eback")  # a bidi override, invisible on screen
    dialog.get_by_role("button", name=re.compile("^Send to")).click()
    expect(dialog.locator(".field-error")).to_have_text(
        "Remove the special or invisible characters from this text."
    )
    expect(note).to_be_focused()
    expect(note).to_have_attribute("aria-invalid", "true")
    _shot(page, "bad-note-390")
    assert not mail.outbox and not PortalLink.objects.exists()
    # Fixed, it sends.
    note.fill("Call me back.")
    dialog.get_by_role("button", name=re.compile("^Send to")).click()
    expect(page.locator(".toast-success")).to_contain_text("Estimate sent.")
    (message,) = mail.outbox
    assert "Call me back." in message.body


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_convert_shows_a_spinner_and_converts_once(
    live_server, login_as, owner, customer, viewport
):
    estimate = SignedEstimateFactory(customer=customer)
    page = login_as(owner)
    page.set_viewport_size(viewport)
    page.goto(live_server.url + estimate.get_absolute_url())
    held, seen = _hold(page, "/convert/")
    convert = page.get_by_role("button", name="Convert to invoice")
    convert.dblclick()
    _wait_held(page, held)
    expect(convert).to_be_disabled()
    expect(convert.locator(".spinner")).to_be_visible()
    _shot(page, f"converting-{viewport['width']}")
    page.wait_for_timeout(200)
    assert len(seen) == 1, seen
    held[0].continue_()
    expect(page.get_by_role("heading", name=re.compile("^Invoice INV-"))).to_be_visible()
    assert Invoice.objects.filter(estimate=estimate).count() == 1


def test_a_plain_form_button_is_busy_once_pressed(live_server, login_as, owner, customer):
    """Forms that post without htmx (Duplicate here) get the same guard from app.js."""
    estimate = EstimateFactory(customer=customer)
    page = login_as(owner)
    page.goto(live_server.url + estimate.get_absolute_url())
    held, seen = _hold(page, "/duplicate/")
    duplicate = page.get_by_role("button", name="Duplicate")
    # The page will be navigating (its request held), when Playwright waits rather than reads:
    # the page reports the button's state itself when it changes.
    states: list = []
    page.expose_function("ccReport", lambda state: states.append(state))
    page.evaluate(WATCH_BUTTON, "Duplicate")
    duplicate.dblclick()
    _wait_held(page, held)
    for _ in range(40):
        if states and states[-1]["disabled"]:
            break
        page.wait_for_timeout(25)
    last = states[-1]
    assert last["disabled"] and last["busy"] and last["spinner"] != "none", states
    page.wait_for_timeout(200)
    assert len(seen) == 1, seen
    held[0].continue_()
    expect(page.locator(".toast-success")).to_be_visible()
    assert Estimate.objects.filter(customer=customer).count() == 2


def test_without_javascript_send_is_a_preview_page(live_server, login_without_js, owner, customer):
    estimate = EstimateFactory(customer=customer, sent=False)
    page = login_without_js(owner)
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + estimate.get_absolute_url())
    page.get_by_role("button", name="Send", exact=True).click()
    expect(
        page.get_by_role("heading", name=f"Send estimate {estimate.display_number}")
    ).to_be_visible()
    _shot(page, "preview-page-nojs-390", full_page=True)
    page.get_by_label("Personal note").fill(NOTE)
    page.get_by_role("button", name=f"Send to {customer.email}").click()
    expect(page.get_by_role("heading", name=re.compile("^Estimate"))).to_be_visible()
    (message,) = mail.outbox
    assert NOTE in message.body
