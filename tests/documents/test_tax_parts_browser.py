"""A BC contractor writes a GST-only labour line in real Chromium, with the keyboard only."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crewcommand.lib.activity import Actor
from documents import services
from documents.models import LineItem, TaxParts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1280])
def test_a_gst_only_labour_line_with_the_keyboard(
    live_server, login_as, owner, customer, csp_violations, width
):
    company = owner.company
    company.province = "BC"
    company.save()
    invoice = services.invoice_create(
        company=company, customer=customer, actor=Actor.member(owner.user)
    )
    page = login_as(owner)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(live_server.url + invoice.get_absolute_url())

    form = page.locator("form.line-add")
    form.get_by_label("Description").focus()
    page.keyboard.type("Install labour, 8 h")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("8")
    page.keyboard.press("Tab")
    page.keyboard.type("95.00")
    page.keyboard.press("Tab")  # Taxable (ticked)
    page.keyboard.press("Tab")  # Which taxes
    taxes = form.get_by_label("Which taxes")
    expect(taxes).to_be_focused()
    expect(taxes).to_have_accessible_description(
        "Labour on real property is usually GST only (no PST)."
    )
    page.keyboard.press("ArrowDown")
    expect(taxes).to_have_value("federal")
    form.get_by_role("button", name="Add line").focus()
    page.keyboard.press("Enter")

    row = page.locator("#lines-body tr").first
    expect(row).to_contain_text("Install labour, 8 h")
    expect(row).to_contain_text("GST only")
    totals = page.locator("#totals")
    expect(totals).to_contain_text("GST 5%")
    expect(totals).to_contain_text("$38.00")  # 5 % of 760.00
    expect(totals).to_contain_text("PST 7%")
    expect(totals).to_contain_text("$798.00")
    line = LineItem.objects.get(invoice=invoice)
    assert line.taxable and line.tax_parts == TaxParts.FEDERAL
    assert csp_violations == []
