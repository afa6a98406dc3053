"""In real Chromium at 390 and 1280 px: a new contractor's first minutes (issue 12, points 1-4).
The login field says Email and takes the address in any case; signup makes the province a
choice with no default; settings refuse a bad phone next to the field, show the booking page as
a full address with a working Copy button, and the sidebar shows a long business name whole
(wrapped, never cut mid-word without a title). Screenshots go to $SCREENSHOT_DIR when set."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crewcommand.models import Company
from tests.test_accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [390, 1280]
LONG_NAME = "Plomberie Côté et Fils — Chauffage, climatisation et réfrigération inc."


def _viewport(page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 844 if width < 600 else 900})


def _shot(page, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


@pytest.mark.parametrize("width", WIDTHS)
def test_login_says_email_and_takes_the_address_in_any_case(
    live_server, page, owner, width, tmp_path, csp_violations
):
    _viewport(page, width)
    page.goto(live_server.url + reverse("login"))
    expect(page.get_by_text("Username")).to_have_count(0)
    email = page.get_by_label("Email")
    expect(email).to_be_focused()
    _shot(page, tmp_path, f"login-{width}")
    email.fill(owner.user.email.upper())
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/app/$"))
    _no_sideways_scroll(page)
    assert not [e for e in csp_violations if "Content Security Policy" in e]


@pytest.mark.parametrize("width", WIDTHS)
def test_signup_asks_for_a_province_and_says_so_when_it_is_skipped(
    live_server, page, width, tmp_path
):
    _viewport(page, width)
    page.goto(live_server.url + reverse("signup"))
    province = page.get_by_label("Province")
    expect(province).to_have_value("")
    expect(province.locator("option:checked")).to_have_text("Choose a province")
    _shot(page, tmp_path, f"signup-{width}")
    page.get_by_label("Company name").fill("Plomberie Côté et Fils")
    page.get_by_label("Your name").fill("Étienne Côté")
    page.get_by_label("Email").fill("Etienne@CoteFils.example")
    page.get_by_role("button", name="Continue").click()
    error = page.locator("#id_province_error")
    expect(error).to_have_text("Choose your province: it sets the sales taxes on your invoices.")
    # The message sits right under the select, and the typed answers are kept.
    assert error.bounding_box()["y"] > province.bounding_box()["y"]
    expect(page.get_by_label("Company name")).to_have_value("Plomberie Côté et Fils")
    _no_sideways_scroll(page)
    _shot(page, tmp_path, f"signup-error-{width}")
    province.select_option("QC")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/signup/sent/$"))


@pytest.mark.parametrize("width", WIDTHS)
def test_settings_show_the_booking_page_in_full_and_a_long_name_whole(
    live_server, login_as, owner, company, width, tmp_path, settings
):
    Company.objects.filter(pk=company.pk).update(name=LONG_NAME)
    page = login_as(owner)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    _viewport(page, width)
    page.goto(live_server.url + reverse("dashboard:settings"))

    _shot(page, tmp_path, f"settings-{width}")
    booking = f"{settings.SITE_URL}/book/{company.slug}/"
    expect(page.locator("#booking-url")).to_have_text(booking)
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_text("Booking page link copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == booking

    # The business name: the whole name in the title, wrapped on at most three lines in the
    # sidebar (two in the phone's top bar), nothing spilling out.
    brand = page.locator(".app-sidebar .brand" if width >= 960 else ".app-topbar .brand")
    expect(brand).to_be_visible()
    expect(brand).to_have_attribute("title", LONG_NAME)
    name = brand.locator(".brand-name")
    box = name.bounding_box()
    line = float(name.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    lines = 3 if width >= 960 else 2
    assert box["height"] <= lines * line + 1 and box["height"] > line  # wrapped
    assert name.evaluate("e => e.scrollWidth <= e.clientWidth")
    if width < 960:  # the menu button still fits next to it
        menu = page.get_by_role("button", name="Menu")
        assert menu.bounding_box()["x"] + menu.bounding_box()["width"] <= width
        assert box["x"] + box["width"] <= menu.bounding_box()["x"]
    _no_sideways_scroll(page)

    # A bad phone: the message next to the field, nothing saved.
    page.get_by_label("Phone").fill("abc")
    page.get_by_label("GST/HST number").fill("12345")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#id_phone_error")).to_have_text(
        "Enter a phone number with its area code, like 514 555 0123."
    )
    expect(page.locator("#id_gst_number_error")).to_contain_text("123456789 RT0001")
    _no_sideways_scroll(page)
    _shot(page, tmp_path, f"settings-errors-{width}")
    page.get_by_label("Phone").fill("514 555 0123")
    page.get_by_label("GST/HST number").fill("123456789rt0001")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.get_by_label("Phone")).to_have_value("(514) 555-0123")
    expect(page.get_by_label("GST/HST number")).to_have_value("123456789 RT0001")


def test_login_signup_and_settings_have_no_serious_accessibility_violations(
    live_server, browser, owner
):
    from django.conf import settings as django_settings
    from django.test import Client

    client = Client()
    client.force_login(owner.user)
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    for url in [reverse("login"), reverse("signup")]:
        page.goto(live_server.url + url, wait_until="networkidle")
        assert not serious_violations(page), url
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    page.goto(live_server.url + reverse("dashboard:settings"), wait_until="networkidle")
    assert not serious_violations(page)
    context.close()
