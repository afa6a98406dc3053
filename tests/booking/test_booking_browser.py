"""In real Chromium: a visitor books on /book/demo/ from a phone-sized window (with a photo),
the request appears in the dashboard inbox with a badge, and is converted into a job. The
strict CSP blocks nothing on the way. Screenshots go to /tmp/book/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from booking.models import RequestStatus, ServiceRequest
from crewcommand.models import Company, Member
from tests.booking.helpers import picture
from tests.browser import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/book")


@pytest.fixture
def demo(settings, media):
    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.DEBUG = False
    return Company.objects.get(slug="demo")


def test_a_visitor_books_on_a_phone_and_the_office_converts_it_into_a_job(
    live_server, browser, login_as, page, demo, csp_violations
):
    SHOTS.mkdir(exist_ok=True)
    phone = browser.new_context(viewport=PHONE, locale="en-CA", timezone_id="America/Toronto")
    visitor = phone.new_page()
    errors: list[str] = []
    visitor.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    visitor.goto(f"{live_server.url}/book/demo/")
    expect(visitor.get_by_role("heading", name="Request a visit")).to_be_visible()
    assert visitor.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    visitor.screenshot(path=str(SHOTS / "book-390.png"), full_page=True)
    visitor.get_by_label("Service", exact=True).select_option("Leak or burst pipe")
    visitor.get_by_label("Tell us more").fill("Water under the kitchen sink.")
    visitor.get_by_label("Photos").set_input_files(
        files=[{"name": "sink.jpg", "mimeType": "image/jpeg", "buffer": picture()}]
    )
    visitor.get_by_label("Service address").fill("77 Queen St E, Toronto ON M5C 1S1")
    visitor.get_by_label("Preferred day").select_option(index=1)
    visitor.get_by_label("Preferred time").select_option("morning")
    visitor.get_by_label("Your name").fill("Riley Park")
    visitor.get_by_label("Phone").fill("647 555 0142")
    visitor.get_by_label("Email (optional)").fill("riley@example.com")
    visitor.get_by_label("Email me tips and offers").check()
    visitor.get_by_role("button", name="Send request").click()
    visitor.wait_for_url(re.compile(r"/book/demo/sent/$"))
    expect(visitor.get_by_role("heading", name="Thanks! Your request is in.")).to_be_visible()
    visitor.screenshot(path=str(SHOTS / "sent-390.png"), full_page=True)
    assert not errors, errors
    phone.close()

    request = ServiceRequest.objects.get(name="Riley Park")
    assert request.phone == "+16475550142" and request.photos.count() == 1

    owner = Member.objects.get(company=demo, role="owner")
    office = login_as(owner)
    office.set_viewport_size({"width": 1280, "height": 900})
    office.goto(f"{live_server.url}/app/")
    nav = office.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name=re.compile(r"Requests\s+2"))).to_be_visible()
    nav.get_by_role("link", name=re.compile("Requests")).click()
    expect(office.get_by_role("heading", name="Service requests")).to_be_visible()
    office.screenshot(path=str(SHOTS / "inbox-1280.png"), full_page=True)
    office.get_by_role("link", name="Riley Park").click()
    expect(office.get_by_role("img", name="Photo 1")).to_be_visible()
    office.screenshot(path=str(SHOTS / "request-1280.png"), full_page=True)
    office.get_by_label("Create a new customer from this request").check()
    office.get_by_label("Job title").fill("Kitchen sink leak")
    office.get_by_role("button", name="Create job").click()
    expect(office.get_by_role("heading", name="Kitchen sink leak")).to_be_visible()
    office.screenshot(path=str(SHOTS / "job-1280.png"), full_page=True)
    request.refresh_from_db()
    assert request.status == RequestStatus.CONVERTED
    assert request.job.customer.email == "riley@example.com"
    assert not csp_violations, csp_violations
