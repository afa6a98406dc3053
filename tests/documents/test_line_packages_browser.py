"""Issue 12, point 5, in real Chromium at 1280 and 390 px: a package is chosen from a list or
created with "New package…", a near-duplicate name joins the package already there, and
"Selected by default" (and the package) show only for the lines they apply to. Without
JavaScript every field shows and the server decides."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crewcommand.lib.activity import Actor
from documents.models import LineItem
from tests.factories import LineItemFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = "/tmp/i12a"
# Screenshots keep the caret (caret="initial"): hiding it injects a <style> the strict CSP refuses,
# which would show up in csp_violations as if the page had done it.


def _fill(form, description, price):
    form.get_by_label("Description").fill(description)
    form.get_by_label("Unit price").fill(price)


@pytest.mark.parametrize("width", [1280, 390])
def test_packages_are_chosen_or_created_and_near_duplicates_join(
    live_server, login_as, owner, draft_estimate, csp_violations, width
):
    page = login_as(owner)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(live_server.url + draft_estimate.get_absolute_url())
    form = page.locator("form.line-add")
    kind = form.get_by_label("Type")
    package = form.get_by_label("Package", exact=True)
    name = form.get_by_label("New package name")
    default = form.get_by_label("Selected by default")

    # An included line: neither the package nor "Selected by default".
    expect(kind).to_have_value("standard")
    for field in (package, name, default):
        expect(field).to_be_hidden()
    form.screenshot(path=f"{SHOTS}/line-add-included-{width}.png", caret="initial")

    # An add-on can be pre-selected; it has no package.
    kind.select_option(label="Optional add-on")
    expect(default).to_be_visible()
    expect(package).to_be_hidden()

    # The first package option: nothing to choose yet, so "New package…" and its name.
    kind.select_option(label="Package option")
    expect(default).to_be_visible()
    expect(package).to_be_visible()
    expect(package.locator("option")).to_have_text(["New package…"])
    expect(name).to_be_visible()
    _fill(form, "50-gal tank heater", "1,450.00")
    name.fill("Water heater")
    form.screenshot(path=f"{SHOTS}/line-add-new-package-{width}.png", caret="initial")
    form.get_by_role("button", name="Add line").click()
    expect(page.locator("#lines-body")).to_contain_text("50-gal tank heater")

    # The next one picks it from the list; the name field stays out of the way.
    form.get_by_label("Type").select_option(label="Package option")
    expect(package).to_have_value("Water heater")
    expect(package.locator("option")).to_have_text(["Water heater", "New package…"])
    expect(name).to_be_hidden()
    form.get_by_label("Selected by default").uncheck()
    _fill(form, "Tankless heater", "2,900.00")
    form.screenshot(path=f"{SHOTS}/line-add-choose-package-{width}.png", caret="initial")
    form.get_by_role("button", name="Add line").click()
    expect(page.locator("#lines-body")).to_contain_text("Tankless heater")

    # A "new" package typed with another case and stray spaces joins the one there.
    form.get_by_label("Type").select_option(label="Package option")
    package.select_option(label="New package…")
    expect(name).to_be_visible()
    name.fill("  water   HEATER ")
    form.get_by_label("Selected by default").uncheck()
    _fill(form, "Heat-pump heater", "3,800.00")
    form.get_by_role("button", name="Add line").click()
    expect(page.locator("#lines-body")).to_contain_text("Heat-pump heater")
    expect(page.locator("#lines-body")).to_contain_text("Option of “Water heater”")
    assert set(LineItem.objects.values_list("group", flat=True)) == {"Water heater"}
    expect(package.locator("option")).to_have_text(["Water heater", "New package…"])

    # Editing a line keeps its package, and hides what an included line has no use for.
    page.get_by_role("link", name="Edit Tankless heater").click()
    row = page.locator("tr.row-editing")
    expect(row.get_by_label("Package", exact=True)).to_have_value("Water heater")
    expect(row.get_by_label("Selected by default")).not_to_be_checked()
    expect(row.get_by_label("New package name")).to_be_hidden()
    row.screenshot(path=f"{SHOTS}/line-edit-package-{width}.png", caret="initial")
    row.get_by_label("Type").select_option(label="Included")
    expect(row.get_by_label("Package", exact=True)).to_be_hidden()
    expect(row.get_by_label("Selected by default")).to_be_hidden()
    row.get_by_label("Type").select_option(label="Package option")
    row.get_by_label("Unit price").fill("2,950.00")
    row.get_by_role("button", name="Save line").click()
    expect(page.locator("#lines-body")).to_contain_text("$2,950.00")
    line = LineItem.objects.get(description="Tankless heater")
    assert (line.group, line.selected_by_default) == ("Water heater", False)
    page.screenshot(path=f"{SHOTS}/line-editor-{width}.png", full_page=True, caret="initial")
    if width == 390:
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert csp_violations == []


def test_without_javascript_both_controls_show_and_the_server_decides(
    live_server, login_without_js, owner, draft_estimate
):
    LineItemFactory(
        doc=draft_estimate,
        actor=Actor.member(owner.user),
        description="Tank",
        kind="choice",
        group="Water heater",
    )
    page = login_without_js(owner)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + draft_estimate.get_absolute_url())
    form = page.locator("form.line-add")
    for label in ("Package", "New package name", "Selected by default"):
        expect(form.get_by_label(label, exact=True)).to_be_visible()
    expect(form.get_by_label("Package", exact=True)).to_have_value("Water heater")
    form.screenshot(path=f"{SHOTS}/line-add-no-js-1280.png", caret="initial")

    # A choice line with "New package…" and no name: a message next to the name, nothing added.
    _fill(form, "Tankless", "2,900.00")
    form.get_by_label("Type").select_option(label="Package option")
    form.get_by_label("Package", exact=True).select_option(label="New package…")
    form.get_by_role("button", name="Add line").click()
    form = page.locator("form.line-add")
    expect(form.locator(".field-error")).to_contain_text("Name the new package")
    assert LineItem.objects.count() == 1

    # A name typed in the other case joins the package; an included line ignores its box.
    form.get_by_label("New package name").fill("WATER HEATER")
    form.get_by_role("button", name="Add line").click()
    expect(page.locator("#lines-body")).to_contain_text("Tankless")
    assert set(LineItem.objects.values_list("group", flat=True)) == {"Water heater"}
    form = page.locator("form.line-add")
    _fill(form, "Labour", "95.00")
    form.get_by_label("Selected by default").uncheck()
    form.get_by_role("button", name="Add line").click()
    expect(page.locator("#lines-body")).to_contain_text("Labour")
    labour = LineItem.objects.get(description="Labour")
    assert (labour.kind, labour.group, labour.selected_by_default) == ("standard", "", True)
