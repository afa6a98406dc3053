"""A contractor writes an estimate in real Chromium: the htmx line editor end to end."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from documents.models import Estimate, EstimateStatus, Invoice
from documents.totals import default_selection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _add_line(page, description, qty, price, *, kind=None, taxable=True):
    form = page.locator("form.line-add")
    form.get_by_label("Description").fill(description)
    form.get_by_label("Qty").fill(qty)
    form.get_by_label("Unit price").fill(price)
    if kind:
        form.get_by_label("Type").select_option(label=kind)
    if not taxable:
        form.get_by_label("Taxable").uncheck()
    form.get_by_role("button", name="Add line").click()
    expect(page.locator("#lines-body")).to_contain_text(description)


def test_contractor_writes_an_estimate_with_the_line_editor(
    live_server, login_as, owner, csp_violations
):
    page = login_as(owner)
    base = live_server.url
    page.goto(base + reverse("dashboard:customer_create"))
    page.get_by_label("Name").fill("Marc Gagnon")
    page.get_by_label("Province").select_option("QC")
    page.get_by_role("button", name="Save customer").click()
    page.get_by_role("link", name="New job").click()
    page.get_by_label("Title").fill("Bathroom reno plumbing")
    page.get_by_role("button", name="Save job").click()
    page.get_by_role("link", name="New estimate").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=re.compile("Estimate EST-0001"))).to_be_visible()

    _add_line(page, "Rough-in plumbing", "1", "1,200.00")
    _add_line(page, "Labour (hours)", "0.75", "55.50")
    _add_line(page, "Heated towel rail", "1", "389.00", kind="Optional add-on")
    # Bad input: a clear message next to the field, nothing added.
    form = page.locator("form.line-add")
    form.get_by_label("Description").fill("Oops")
    form.get_by_label("Unit price").fill("12.345")
    form.get_by_role("button", name="Add line").click()
    expect(page.locator("form.line-add .field-error")).to_contain_text("at most 2 decimals")
    expect(page.locator("#lines-body tr")).to_have_count(3)

    # Inline edit and reorder.
    page.get_by_role("link", name="Edit Rough-in plumbing").click()
    page.locator("tr.row-editing").get_by_label("Unit price").fill("1,250.00")
    page.get_by_role("button", name="Save line").click()
    expect(page.locator("#lines-body")).to_contain_text("$1,250.00")
    page.get_by_role("button", name="Move Labour (hours) up").click()
    expect(page.locator("#lines-body tr").first).to_contain_text("Labour (hours)")

    # Ontario by default (the company's province): HST 13%. Switch to Quebec with a deposit.
    expect(page.locator("#totals")).to_contain_text("HST 13%")
    page.get_by_label("Tax province").select_option("QC")
    page.get_by_label("Deposit", exact=True).select_option("percent")
    page.get_by_label("Deposit amount or %").fill("25")
    page.get_by_role("button", name="Save details").click()
    expect(page.locator("#totals")).to_contain_text("GST 5%")
    expect(page.locator("#totals")).to_contain_text("QST 9.975%")
    estimate = Estimate.objects.get()
    revision = estimate.current_revision
    # 1,250 + 41.63 + 389 (optional, pre-selected) = 1,680.63; GST 84.03; QST 167.64.
    assert revision.total == revision.subtotal + revision.tax_total
    expect(page.locator("#totals")).to_contain_text("$1,932.30")
    expect(page.locator("#totals")).to_contain_text("Deposit requested")

    pdf = page.request.get(base + reverse("documents:estimate_pdf", args=[estimate.public_id]))
    assert pdf.ok and pdf.body()[:4] == b"%PDF"

    page.get_by_role("button", name="Send").click()
    # The email preview first (the customer has no email address: it only marks it sent).
    page.get_by_role("dialog").get_by_role("button", name="Mark as sent").click()
    expect(page.locator(".badge").first).to_contain_text("Sent")
    Estimate.objects.filter(pk=estimate.pk).update(
        status=EstimateStatus.ACCEPTED,
        accepted_revision=revision,
        accepted_selection=default_selection(revision.lines.all()).as_json(),
        decided_at=timezone.now(),
    )
    page.reload()
    page.get_by_role("button", name="Convert to invoice").click()
    expect(page.get_by_role("heading", name=re.compile("Invoice INV-0001"))).to_be_visible()
    assert Invoice.objects.get().total == revision.total
    page.goto(base + reverse("documents:invoice_list") + "?status=draft")
    expect(page.get_by_role("link", name="INV-0001")).to_be_visible()
    assert not [e for e in csp_violations if "Content Security Policy" in e]
