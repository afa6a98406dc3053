"""Every action on the estimate and invoice pages works with JavaScript turned off (issue 10):
the line editor's forms post and come back to the page with a message, the Edit link opens
a page of its own, and the panels the page loads with htmx have a link to a page of their
own. In real Chromium with ``java_script_enabled=False``."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from documents.models import InvoiceStatus, LineItem
from tests.factories import LineItemFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _no_js(page) -> None:
    """app.js would have marked <html class="js">: it did not run."""
    expect(page.locator("html.js")).to_have_count(0)


def _rows(page):
    return page.locator("#lines-body tr")


def test_the_line_editor_without_javascript(live_server, login_without_js, owner, draft_estimate):
    page = login_without_js(owner)
    page.goto(live_server.url + draft_estimate.get_absolute_url())
    _no_js(page)

    form = page.locator("form.line-add")
    for description, price in [("Rough-in plumbing", "1,200.00"), ("Labour (hours)", "55.50")]:
        form.get_by_label("Description").fill(description)
        form.get_by_label("Qty").fill("1")
        form.get_by_label("Unit price").fill(price)
        form.get_by_role("button", name="Add line").click()
        expect(page.get_by_text("Line added.")).to_be_visible()
    expect(_rows(page)).to_have_count(2)
    assert page.url.startswith(live_server.url + draft_estimate.get_absolute_url())

    # Bad input: the whole page again, the message beside the field, nothing added.
    form.get_by_label("Description").fill("Oops")
    form.get_by_label("Unit price").fill("12.345")
    form.get_by_role("button", name="Add line").click()
    expect(page.locator("form.line-add .field-error")).to_contain_text("at most 2 decimals")
    expect(_rows(page)).to_have_count(2)

    # Edit: a page of its own, then back.
    page.get_by_role("link", name="Edit Rough-in plumbing").click()
    expect(page.get_by_role("heading", name="Edit line")).to_be_visible()
    page.get_by_label("Unit price").fill("1,250.00")
    page.get_by_role("button", name="Save line").click()
    expect(page.get_by_text("Line saved.")).to_be_visible()
    expect(page.locator("#lines-body")).to_contain_text("$1,250.00")

    # Move, then remove.
    page.get_by_role("button", name="Move Labour (hours) up").click()
    expect(_rows(page).first).to_contain_text("Labour (hours)")
    page.get_by_role("button", name="Remove Labour (hours)").click()
    expect(page.get_by_text("Line removed.")).to_be_visible()
    expect(_rows(page)).to_have_count(1)

    revision = draft_estimate.current_revision
    assert [(line.description, line.unit_price) for line in LineItem.objects.all()] == [
        ("Rough-in plumbing", Decimal("1250.00"))
    ]
    revision.refresh_from_db()
    assert revision.subtotal == Decimal("1250.00")


def test_an_invoice_page_without_javascript(
    live_server, login_without_js, owner, draft_invoice, actor
):
    LineItemFactory(
        doc=draft_invoice, actor=actor, unit_price=Decimal("100.00"), quantity=Decimal("1")
    )
    page = login_without_js(owner)
    page.goto(live_server.url + draft_invoice.get_absolute_url())
    _no_js(page)

    # Details with a mistake: the page again, the message in place.
    page.get_by_label("Payment terms").select_option("custom")
    page.get_by_label("Due date").fill("")
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_text("Pick the due date for custom terms.")).to_be_visible()
    expect(page.get_by_role("heading", name="Invoice INV-0001")).to_be_visible()

    page.get_by_role("button", name="Send").click()
    # Without JavaScript the email preview is a page; its button sends.
    page.get_by_role("button", name=re.compile("^Send to ")).click()
    expect(page.get_by_text("Invoice sent.")).to_be_visible()
    draft_invoice.refresh_from_db()
    assert draft_invoice.status == InvoiceStatus.SENT

    # No "Loading payments…" that never ends: a link to the panel's own page.
    expect(page.get_by_text("Loading payments…")).to_be_hidden()
    page.locator("#payments-panel").get_by_role("link", name="Payments").click()
    expect(page.get_by_role("heading", name="INV-0001")).to_be_visible()
    page.get_by_role("link", name="Record a payment").click()
    page.get_by_label("Amount received").fill("40")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_text("Payment recorded.")).to_be_visible()
    draft_invoice.refresh_from_db()
    assert draft_invoice.amount_paid == Decimal("40.00")

    page.goto(live_server.url + draft_invoice.get_absolute_url())
    page.locator("#links-panel").get_by_role("link", name="Customer links").click()
    expect(page.get_by_role("heading", name="Customer portal")).to_be_visible()
