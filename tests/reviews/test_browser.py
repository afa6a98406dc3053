"""Issue 13, reviews, in real Chromium: a customer opens a review link on a phone (390 x 844),
clicks through and lands on a (fake, local) Google review page, and the click shows in the
contractor's dashboard. With the strict CSP on.

Screenshots go to ``$CC_SCREENSHOTS`` when set (for a person to look at), else to the test's
temporary directory."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crewcommand.lib.activity import Actor
from reviews import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


class _FakeGoogle(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append({"path": self.path, "referer": self.headers.get("Referer", "")})
        body = b"<!doctype html><title>Fake Google review</title><h1>Write a review</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_google():
    _FakeGoogle.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeGoogle)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/local/writereview?placeid=demo"
    server.shutdown()
    server.server_close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("CC_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


@pytest.fixture
def phone(browser, browser_context_args):
    """A touch phone (390 x 844, coarse pointer: the 44 px target rules apply)."""
    context = browser.new_context(
        **{**browser_context_args, "viewport": PHONE}, has_touch=True, is_mobile=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page, errors
    context.close()


def test_a_customer_clicks_through_to_google_and_the_click_shows_in_the_dashboard(
    live_server, phone, page, login_as, owner, customer, fake_google, csp_violations, shots
):
    company = owner.company
    company.google_review_url = fake_google
    company.save(update_fields=["google_review_url"])
    request = services.review_request_send(customer=customer, actor=Actor.member(owner.user))
    path = services.url_for(request).split("://", 1)[1].split("/", 1)[1]
    token = path.split("/")[1]

    customer_page, customer_errors = phone
    customer_page.goto(f"{live_server.url}/{path}")
    expect(customer_page.get_by_role("heading", level=1)).to_have_text(
        "Thanks for choosing Maple Plumbing!"
    )
    button = customer_page.get_by_role("link", name="Leave a review on Google")
    box = button.bounding_box()
    assert box is not None and box["height"] >= 44
    _no_sideways_scroll(customer_page)
    customer_page.screenshot(path=shots / "review-landing-390.png", full_page=True)

    button.tap()
    customer_page.wait_for_url(fake_google)
    expect(customer_page.get_by_role("heading", name="Write a review")).to_be_visible()
    (visit,) = [v for v in _FakeGoogle.seen if v["path"].startswith("/local/")]
    assert token not in visit["referer"]  # Google may learn our origin, never the link
    assert not customer_errors

    login_as(owner)
    for name, size in (("390", PHONE), ("1280", DESKTOP)):
        page.set_viewport_size(size)
        page.goto(live_server.url + reverse("reviews_dashboard:review_list"))
        expect(page.locator("#total-sent")).to_have_text("1")
        expect(page.locator("#total-opened")).to_have_text("1")
        expect(page.locator("#total-clicked")).to_have_text("1")
        expect(page.locator("#click-rate")).to_contain_text("100")
        expect(page.get_by_role("link", name=customer.name)).to_be_visible()
        _no_sideways_scroll(page)
        page.screenshot(path=shots / f"review-dashboard-{name}.png", full_page=True)

    page.goto(live_server.url + customer.get_absolute_url())
    panel = page.locator("#reviews-panel")
    expect(panel).to_contain_text("Clicked")
    page.screenshot(path=shots / "review-customer-panel-1280.png", full_page=True)
    assert not csp_violations


def test_the_landing_page_at_1280_and_without_a_google_link(
    live_server, page, customer, shots, csp_violations
):
    url = services.review_link_for(customer=customer)
    path = url.split("://", 1)[1].split("/", 1)[1]
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/{path}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Thanks for choosing")
    expect(page.get_by_role("link", name="Leave a review on Google")).to_have_count(0)
    page.screenshot(path=shots / "review-landing-no-google-1280.png", full_page=True)
    assert not csp_violations


def test_a_job_page_asks_for_a_review_and_the_dashboard_warns_without_a_google_link(
    live_server, page, login_as, owner, job, shots, csp_violations
):
    login_as(owner)
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + job.get_absolute_url())
    panel = page.locator("#reviews-panel")
    expect(panel).to_contain_text("Not asked for a review yet.")
    expect(panel).to_contain_text("Set your Google review link in Settings")
    panel.get_by_role("button", name="Ask for a review by email").click()
    expect(page.locator("#reviews-panel")).to_contain_text("Already asked on")
    _no_sideways_scroll(page)
    page.locator("#reviews-panel").scroll_into_view_if_needed()
    page.screenshot(path=shots / "review-job-panel-390.png", full_page=True)
    page.goto(live_server.url + reverse("reviews_dashboard:review_list"))
    warning = page.locator("#no-google-url")
    expect(warning).to_be_visible()
    expect(
        warning.get_by_role("link", name="Set your Google review link in Settings")
    ).to_have_attribute("href", reverse("dashboard:settings"))
    expect(page.locator("#total-sent")).to_have_text("1")
    _no_sideways_scroll(page)
    page.screenshot(path=shots / "review-dashboard-warning-390.png", full_page=True)
    assert not csp_violations


def test_a_customer_sends_private_feedback_with_the_google_button_still_beside(
    live_server, phone, owner, customer, fake_google, shots
):
    """Real Chromium, real CSRF check: the feedback page's form posts with our Origin."""
    owner.company.google_review_url = fake_google
    owner.company.save(update_fields=["google_review_url"])
    path = "/" + services.review_link_for(customer=customer).split("://", 1)[1].split("/", 1)[1]
    customer_page, customer_errors = phone
    customer_page.goto(live_server.url + path)
    customer_page.get_by_role("link", name="Or send us a private message").tap()
    customer_page.get_by_label("Your message to us").fill("Great work, but please call first.")
    customer_page.get_by_role("button", name="Send the message").tap()
    expect(customer_page.locator("#feedback-sent")).to_be_visible()
    expect(customer_page.get_by_role("link", name="Leave a review on Google")).to_be_visible()
    _no_sideways_scroll(customer_page)
    customer_page.screenshot(path=shots / "review-feedback-390.png", full_page=True)
    assert not customer_errors
    customer.refresh_from_db()
    assert customer.review_requests.get().feedback == "Great work, but please call first."
