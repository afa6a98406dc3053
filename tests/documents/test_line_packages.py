"""Issue 12, point 5: a package is chosen from the estimate's packages or created on purpose,
a new name that only differs in case or spacing joins the package already there, and the
options' fields mean nothing on an included line (the server ignores them)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from documents import selectors
from documents.forms import NEW_PACKAGE, LineForm, package_key, package_match
from documents.models import LineItem
from tests.factories import LineItemFactory

HX = {"HX-Request": "true"}
PACKAGES = ["Water heater", "Softener"]


def _form(packages=PACKAGES, **data):
    post = {"description": "Tank 50 gal", "quantity": "1", "unit_price": "900", **data}
    return LineForm(post, province="ON", packages=packages)


def test_the_package_list_offers_the_estimates_packages_and_a_new_one():
    form = LineForm(province="ON", packages=["Water heater", "Softener", "Water heater", ""])
    assert list(form.fields["group"].widget.choices) == [
        ("Water heater", "Water heater"),
        ("Softener", "Softener"),
        (NEW_PACKAGE, "New package…"),
    ]
    assert form["group"].value() == "Water heater"  # the first package is picked for you
    assert LineForm(province="ON")["group"].value() == NEW_PACKAGE  # none yet: a new one


def test_an_invoice_line_has_no_option_fields():
    form = LineForm(province="ON", allow_options=False, packages=PACKAGES)
    assert {"kind", "group", "new_group", "selected_by_default"}.isdisjoint(form.fields)


def test_choosing_a_package_from_the_list_keeps_its_name():
    form = _form(kind="choice", group="Softener")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["group"] == "Softener"
    assert "new_group" not in form.cleaned_data  # nothing for line_save to set but the group


@pytest.mark.parametrize("typed", ["water heater", "  WATER   Heater ", "Water\theater"])
def test_a_new_name_that_only_differs_in_case_or_spacing_joins_the_package(typed):
    form = _form(kind="choice", group=NEW_PACKAGE, new_group=typed)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["group"] == "Water heater"


def test_a_new_name_starts_a_new_package_with_its_spaces_tidied():
    form = _form(kind="choice", group=NEW_PACKAGE, new_group="  Tankless   heater ")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["group"] == "Tankless heater"


def test_without_javascript_a_typed_name_wins_over_the_list():
    """Both controls show without JavaScript, with the first package picked: a name typed in
    "New package name" is what the contractor meant."""
    form = _form(kind="choice", group="Water heater", new_group="Thermostat")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["group"] == "Thermostat"


def test_new_package_without_a_name_says_so_next_to_the_name():
    form = _form(kind="choice", group=NEW_PACKAGE, new_group="   ")
    assert not form.is_valid()
    assert form.errors["new_group"] == ["Name the new package, e.g. “Water heater”."]


@pytest.mark.parametrize("packages", [PACKAGES, []])
def test_a_package_option_with_no_package_gets_a_clear_error(packages):
    form = _form(packages, kind="choice")
    assert not form.is_valid()
    assert "Name the package" in form.errors["group"][0]


def test_a_package_no_longer_on_the_estimate_is_refused_with_a_way_out():
    form = _form(kind="choice", group="Fridge")
    assert not form.is_valid()
    assert "no longer on this estimate" in form.errors["group"][0]


@pytest.mark.parametrize("kind", ["standard", "optional"])
def test_lines_other_than_package_options_carry_no_package(kind):
    form = _form(kind=kind, group="Fridge", new_group="Anything", selected_by_default="")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["group"] == ""


def test_an_included_line_ignores_selected_by_default():
    form = _form(kind="standard")  # the box unticked, or hidden and not sent
    assert form.is_valid(), form.errors
    assert form.cleaned_data["selected_by_default"] is True


@pytest.mark.parametrize("kind", ["optional", "choice"])
def test_options_keep_selected_by_default_as_posted(kind):
    form = _form(kind=kind, group="Softener")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["selected_by_default"] is False


def test_package_names_match_ignoring_case_and_spacing():
    assert package_key(" Water   HEATER\n") == "water heater"
    assert package_match("water heater", PACKAGES) == "Water heater"
    assert package_match("Water heaters", PACKAGES) is None


@pytest.mark.django_db
def test_the_estimates_packages_in_the_order_they_first_appear(draft_estimate, actor):
    for description, kind, group in [
        ("Labour", "standard", ""),
        ("Tank", "choice", "Water heater"),
        ("Softener A", "choice", "Softener"),
        ("Tankless", "choice", "Water heater"),
        ("Towel rail", "optional", ""),
    ]:
        LineItemFactory(
            doc=draft_estimate, actor=actor, description=description, kind=kind, group=group
        )
    revision_id = draft_estimate.current_revision_id
    assert selectors.package_names(revision_id=revision_id) == ["Water heater", "Softener"]


@pytest.mark.django_db
def test_adding_a_near_duplicate_package_through_the_editor_joins_it(
    owner_client, draft_estimate, actor
):
    LineItemFactory(
        doc=draft_estimate, actor=actor, description="Tank", kind="choice", group="Water heater"
    )
    url = reverse("documents:estimate_line_add", args=[draft_estimate.public_id])
    data = {"description": "Tankless", "quantity": "1", "unit_price": "2400", "kind": "choice"}
    response = owner_client.post(
        url, {**data, "group": NEW_PACKAGE, "new_group": "water  heater "}, headers=HX
    )
    assert response.status_code == 200
    assert sorted(LineItem.objects.values_list("group", flat=True)) == ["Water heater"] * 2
    body = response.content.decode()
    assert body.count("Option of “Water heater”") == 2
    # The add form now offers the package (picked) rather than a blank name to retype.
    assert '<option value="Water heater" selected>Water heater</option>' in body


@pytest.mark.django_db
def test_a_package_option_without_a_package_is_refused_and_nothing_changes(
    owner_client, draft_estimate
):
    url = reverse("documents:estimate_line_add", args=[draft_estimate.public_id])
    data = {"description": "Tank", "quantity": "1", "unit_price": "900", "kind": "choice"}
    response = owner_client.post(url, {**data, "group": NEW_PACKAGE}, headers=HX)
    assert "Name the new package" in response.content.decode()
    assert not LineItem.objects.exists()


@pytest.mark.django_db
def test_editing_a_package_option_keeps_its_package_selected(owner_client, draft_estimate, actor):
    LineItemFactory(
        doc=draft_estimate, actor=actor, description="Tank", kind="choice", group="Water heater"
    )
    line = LineItemFactory(
        doc=draft_estimate, actor=actor, description="Salt", kind="choice", group="Softener"
    )
    url = reverse("documents:estimate_line_edit", args=[draft_estimate.public_id, line.public_id])
    body = owner_client.get(url, headers=HX).content.decode()
    assert '<option value="Softener" selected>Softener</option>' in body
    assert '<option value="Water heater">Water heater</option>' in body
    data = {
        "description": "Salt",
        "quantity": "1",
        "unit_price": "50",
        "kind": "choice",
        "group": "Softener",
    }
    owner_client.post(url, data, headers=HX)
    line.refresh_from_db()
    assert line.group == "Softener" and line.unit_price == 50


@pytest.mark.django_db
def test_an_included_line_saved_with_the_box_unticked_stays_selected(owner_client, draft_estimate):
    url = reverse("documents:estimate_line_add", args=[draft_estimate.public_id])
    data = {"description": "Labour", "quantity": "1", "unit_price": "95", "kind": "standard"}
    owner_client.post(url, data, headers=HX)
    assert LineItem.objects.get().selected_by_default is True
