"""The estimate and invoice pages as a contractor uses them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crewcommand.lib.money import format_cad
from documents import services
from documents.models import Estimate, EstimateRevision, Invoice, InvoiceStatus, LineItem
from tests.factories import EstimateFactory, LineItemFactory
from tests.portal.helpers import send_data

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def _line_url(doc, kind="estimate"):
    return reverse(f"documents:{kind}_line_add", args=[doc.public_id])


def test_create_estimate_for_a_customer_and_job(owner_client, customer, job):
    response = owner_client.post(
        reverse("documents:estimate_create"), {"customer": customer.public_id, "job": job.public_id}
    )
    estimate = Estimate.objects.get()
    assert response["Location"] == estimate.get_absolute_url()
    assert estimate.job == job and estimate.current_revision.province == "ON"


def test_job_of_another_customer_is_refused(owner_client, customer, company):
    from tests.factories import JobFactory

    other_job = JobFactory(customer__company=company)
    response = owner_client.post(
        reverse("documents:estimate_create"),
        {"customer": customer.public_id, "job": other_job.public_id},
    )
    assert "belongs to another customer" in response.content.decode()
    assert not Estimate.objects.exists()


def test_adding_a_line_with_htmx_returns_the_editor_with_live_totals(owner_client, draft_estimate):
    response = owner_client.post(
        _line_url(draft_estimate),
        {
            "description": "Water heater",
            "quantity": "1",
            "unit_price": "1,299.00",
            "taxable": "on",
            "kind": "standard",
        },
        headers=HX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="line-editor"' in body and "Water heater" in body
    assert "$1,299.00" in body and "HST 13%" in body and "$168.87" in body and "$1,467.87" in body
    assert "Line added." in body  # toast, out of band


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quantity", "-1", "quantity above 0"),
        ("quantity", "1.2345", "at most 3 decimals"),
        ("quantity", "lots", "quantity above 0"),
        ("unit_price", "12.345", "at most 2 decimals"),
        ("unit_price", "1e9", "Enter a price"),
        ("unit_price", "99999999999", "Enter a price"),
        ("unit_price", "NaN", "Enter a price"),
        ("description", "", "This field is required"),
        ("description", "x" * 501, "at most 500 characters"),
        ("description", "bad\x07char", "control characters"),
        ("description", "bad\x00char", "Null characters"),
        ("kind", "choice", "Name the package"),
    ],
)
def test_bad_line_input_gets_a_message_and_changes_nothing(
    owner_client, draft_estimate, field, value, message
):
    data = {
        "description": "Labour",
        "quantity": "1",
        "unit_price": "10",
        "kind": "standard",
        field: value,
    }
    response = owner_client.post(_line_url(draft_estimate), data, headers=HX)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not LineItem.objects.exists()


def test_the_line_editor_takes_the_active_languages_decimal_mark(owner_client, draft_estimate):
    """One money field everywhere: the active language's decimal mark is accepted. The
    dashboard is English whatever the browser asks (``crewcommand.middleware.LanguageMiddleware``),
    so a French browser's "1,5" is refused there with the English message; the same form in
    French (as on a French customer's pages) takes "2,5" and "1 234,5"."""
    from django.utils import translation

    from documents.forms import LineForm

    line = {"description": "Main-d'œuvre", "kind": "standard", "taxable": "on"}
    french_browser = {**HX, "Accept-Language": "fr-ca"}
    response = owner_client.post(
        _line_url(draft_estimate),
        {**line, "quantity": "1", "unit_price": "1,5"},
        headers=french_browser,
    )
    assert response.status_code == 200
    assert "Enter a price" in response.content.decode()
    assert not LineItem.objects.exists()
    with translation.override("fr-ca"):
        form = LineForm(data={**line, "quantity": "2,5", "unit_price": "1\u00a0234,5"})
        assert form.is_valid(), form.errors
    assert (form.cleaned_data["quantity"], form.cleaned_data["unit_price"]) == (
        Decimal("2.5"),
        Decimal("1234.50"),
    )
    response = owner_client.post(
        _line_url(draft_estimate), {**line, "quantity": "2.5", "unit_price": "1234.5"}, headers=HX
    )
    assert LineItem.objects.count() == 1


def test_inline_edit_round_trip(owner_client, draft_estimate, actor):
    line = LineItemFactory(doc=draft_estimate, actor=actor)
    url = reverse("documents:estimate_line_edit", args=[draft_estimate.public_id, line.public_id])
    form = owner_client.get(url, headers=HX).content.decode()
    assert 'name="unit_price"' in form and "95.00" in form
    response = owner_client.post(
        url,
        {
            "description": "Labour (2 techs)",
            "quantity": "3",
            "unit_price": "95",
            "taxable": "on",
            "kind": "standard",
        },
        headers=HX,
    )
    line.refresh_from_db()
    assert line.quantity == 3 and "Labour (2 techs)" in response.content.decode()


def test_taxes_for_ontario_quebec_and_british_columbia(owner_client, owner, customer, actor):
    expected = {"ON": ["HST 13%"], "QC": ["GST 5%", "QST 9.975%"], "BC": ["GST 5%", "PST 7%"]}
    for province, labels in expected.items():
        estimate = services.estimate_create(company=owner.company, customer=customer, actor=actor)
        services.estimate_update(estimate=estimate, actor=actor, fields={"province": province})
        LineItemFactory(
            doc=estimate, actor=actor, quantity=Decimal("1"), unit_price=Decimal("300.00")
        )
        body = owner_client.get(estimate.get_absolute_url()).content.decode()
        for label in labels:
            assert label in body, (province, label)
    quebec = Estimate.objects.filter(current_revision__province="QC").get()
    assert quebec.current_revision.total == Decimal("344.93")


def test_send_then_revise_shows_revisions(owner_client, draft_estimate, actor):
    LineItemFactory(doc=draft_estimate, actor=actor)
    owner_client.post(
        reverse("documents:estimate_action", args=[draft_estimate.public_id, "send"]),
        send_data(draft_estimate),
    )
    owner_client.post(
        reverse("documents:estimate_action", args=[draft_estimate.public_id, "revise"])
    )
    draft_estimate.refresh_from_db()
    assert draft_estimate.current_revision.number == 2
    body = owner_client.get(draft_estimate.get_absolute_url()).content.decode()
    assert "Revision 1" in body and "Revision 2" in body
    old = owner_client.get(
        reverse("documents:estimate_revision", args=[draft_estimate.public_id, 1])
    )
    assert "read-only" in old.content.decode()


def test_unknown_action_is_404_and_get_is_405_unless_it_asks_first(owner_client, draft_estimate):
    assert (
        owner_client.post(
            reverse("documents:estimate_action", args=[draft_estimate.public_id, "explode"])
        ).status_code
        == 404
    )
    assert (
        owner_client.get(
            reverse("documents:estimate_action", args=[draft_estimate.public_id, "duplicate"])
        ).status_code
        == 405
    )
    # Send shows the email first (its preview), and changes nothing.
    preview = owner_client.get(
        reverse("documents:estimate_action", args=[draft_estimate.public_id, "send"])
    )
    assert preview.status_code == 200 and "Check the email, then send it" in preview.text


def test_invoice_terms_set_the_due_date_and_custom_dates_are_checked(owner_client, draft_invoice):
    url = reverse("documents:invoice_settings", args=[draft_invoice.public_id])
    today = timezone.localdate()
    data = {
        "province": "ON",
        "issue_date": today.isoformat(),
        "terms": "net30",
        "due_date": "",
        "notes": "",
        "terms_text": "",
    }
    owner_client.post(url, data)
    draft_invoice.refresh_from_db()
    assert draft_invoice.due_date == today + dt.timedelta(days=30)
    bad = {**data, "terms": "custom", "due_date": (today - dt.timedelta(days=1)).isoformat()}
    response = owner_client.post(url, bad, headers=HX)
    assert "before the invoice date" in response.content.decode()
    draft_invoice.refresh_from_db()
    assert draft_invoice.terms == "net30"


def test_invoice_list_filters_and_summary(owner_client, owner, customer, actor):
    def sent_invoice(amount, days_ago):
        invoice = services.invoice_create(company=owner.company, customer=customer, actor=actor)
        LineItemFactory(
            doc=invoice,
            actor=actor,
            quantity=Decimal("1"),
            unit_price=Decimal(amount),
            taxable=False,
        )
        services.invoice_send(invoice=invoice, actor=actor)
        Invoice.objects.filter(pk=invoice.pk).update(
            issue_date=timezone.localdate() - dt.timedelta(days=days_ago + 30),
            due_date=timezone.localdate() - dt.timedelta(days=days_ago),
        )
        return invoice

    overdue = sent_invoice("100.00", 5)
    current = sent_invoice("50.00", -10)
    draft = services.invoice_create(company=owner.company, customer=customer, actor=actor)
    response = owner_client.get(reverse("documents:invoice_list"), {"status": "overdue"})
    body = response.content.decode()
    assert overdue.display_number in body and current.display_number not in body
    assert draft.display_number not in body
    assert response.context["summary"] == {
        "outstanding": Decimal("150.00"),
        "overdue": Decimal("100.00"),
        "overdue_count": 1,
    }
    assert "badge-overdue" in body
    by_number = owner_client.get(reverse("documents:invoice_list"), {"q": "INV-2"}).content.decode()
    assert current.display_number in by_number and overdue.display_number not in by_number


@pytest.mark.parametrize("name", ["documents:invoice_list", "documents:estimate_list"])
def test_lists_have_constant_query_counts(
    owner_client, owner, customer, actor, name, django_assert_max_num_queries
):
    def make(n):
        for _ in range(n):
            services.invoice_create(company=owner.company, customer=customer, actor=actor)
            services.estimate_create(company=owner.company, customer=customer, actor=actor)

    make(2)
    with django_assert_max_num_queries(10) as few:
        owner_client.get(reverse(name))
    make(25)
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(reverse(name))


def test_void_from_the_dashboard_keeps_the_invoice(owner_client, draft_invoice, actor):
    LineItemFactory(doc=draft_invoice, actor=actor)
    services.invoice_send(invoice=draft_invoice, actor=actor)
    owner_client.post(reverse("documents:invoice_action", args=[draft_invoice.public_id, "void"]))
    draft_invoice.refresh_from_db()
    assert draft_invoice.status == InvoiceStatus.VOID


def test_a_plain_post_to_the_line_editor_comes_back_to_the_page(
    owner_client, draft_estimate, actor
):
    """Without JavaScript the forms post as they are: each answer is the page, not a
    fragment (htmx keeps getting the editor)."""
    line = LineItemFactory(doc=draft_estimate, actor=actor)
    other = LineItemFactory(doc=draft_estimate, actor=actor, description="Parts")
    back = draft_estimate.get_absolute_url() + "#line-editor"
    ids = [draft_estimate.public_id, line.public_id]
    data = {"description": "Labour", "quantity": "1", "unit_price": "10", "kind": "standard"}
    plain = [
        owner_client.post(_line_url(draft_estimate), data),
        owner_client.post(reverse("documents:estimate_line_edit", args=ids), data),
        owner_client.post(reverse("documents:estimate_line_move", args=ids), {"direction": "down"}),
        owner_client.post(reverse("documents:estimate_line_delete", args=ids)),
    ]
    assert [(r.status_code, r["Location"]) for r in plain] == [(302, back)] * 4
    assert list(draft_estimate.current_revision.lines.values_list("description", flat=True)) == [
        other.description,
        "Labour",
    ]
    bad = owner_client.post(_line_url(draft_estimate), {**data, "unit_price": "x"})
    assert bad.status_code == 200 and "<html" in bad.content.decode()
    assert "Enter a price" in bad.content.decode()
    edit_page = owner_client.get(
        reverse("documents:estimate_line_edit", args=[draft_estimate.public_id, other.public_id])
    )
    assert "<html" in edit_page.content.decode() and "Edit line" in edit_page.content.decode()
    fragment = owner_client.post(
        reverse("documents:estimate_line_delete", args=[draft_estimate.public_id, other.public_id]),
        headers=HX,
    )
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()


def test_the_payments_panels_are_pages_of_their_own_without_htmx(owner_client, draft_invoice, job):
    for url in [
        reverse("billing_dashboard:invoice_payments", args=[draft_invoice.public_id]),
        reverse("billing_dashboard:job_payments", args=[job.public_id]),
    ]:
        page = owner_client.get(url).content.decode()
        panel = owner_client.get(url, headers=HX).content.decode()
        assert "<html" in page and "Back to" in page
        assert "<html" not in panel


def _estimate_details(estimate, **changes):
    revision = estimate.current_revision
    return {
        "province": revision.province,
        "valid_until": revision.valid_until.isoformat() if revision.valid_until else "",
        "deposit_kind": revision.deposit_kind,
        "deposit_value": str(revision.deposit_value),
        "notes": revision.notes,
        "terms": revision.terms,
        **changes,
    }


def test_a_past_valid_until_and_a_deposit_over_the_total_are_form_errors(
    owner_client, customer, actor
):
    """Issue 12, point 6: both are refused in place and nothing is saved (they were accepted,
    and the deposit silently capped to the total)."""
    estimate = EstimateFactory(customer=customer, actor=actor, sent=False)
    revision = estimate.current_revision
    before = (revision.valid_until, revision.deposit_kind, revision.deposit_value)
    url = reverse("documents:estimate_settings", args=[estimate.public_id])
    yesterday = timezone.localdate() - dt.timedelta(days=1)

    response = owner_client.post(
        url, _estimate_details(estimate, valid_until=yesterday), headers=HX
    )
    assert "can&#x27;t be in the past" in response.content.decode()

    over = revision.total + Decimal("0.01")
    response = owner_client.post(
        url, _estimate_details(estimate, deposit_kind="fixed", deposit_value=str(over)), headers=HX
    )
    body = response.content.decode()
    assert "can&#x27;t be more than the estimate&#x27;s total" in body
    assert format_cad(revision.total) in body
    response = owner_client.post(
        url, _estimate_details(estimate, deposit_kind="percent", deposit_value="100.01"), headers=HX
    )
    assert "between 1 and 100" in response.content.decode()

    revision.refresh_from_db()
    assert (revision.valid_until, revision.deposit_kind, revision.deposit_value) == before

    # The total itself, a date from today on, and a past date already on the estimate still save.
    owner_client.post(
        url,
        _estimate_details(
            estimate,
            deposit_kind="fixed",
            deposit_value=str(revision.total),
            valid_until=timezone.localdate(),
        ),
    )
    revision.refresh_from_db()
    assert revision.deposit_value == revision.total and revision.valid_until == timezone.localdate()
    EstimateRevision.objects.filter(pk=revision.pk).update(valid_until=yesterday)
    estimate.refresh_from_db()
    owner_client.post(url, _estimate_details(estimate, notes="Kept."))
    revision.refresh_from_db()
    assert revision.notes == "Kept." and revision.valid_until == yesterday
