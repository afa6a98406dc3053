"""Phones, postal codes and GST/HST and QST numbers: checked where they are typed (settings,
customer forms), stored in one form, shown as people read them on the dashboard, the portal,
emails and PDFs; rows saved before the checks existed are shown as they are, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crewcommand.lib import canada
from crewcommand.models import Company, Customer
from documents import pdf
from tests.documents.test_pdf import pages_text
from tests.factories import InvoiceFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db

SETTINGS = {
    "name": "Plomberie Côté et Fils",
    "province": "QC",
    "timezone": "America/Toronto",
    "brand_color": "#0f766e",
    "portal_link_days": "60",
    "default_language": "en-ca",
    "quiet_hours_start": "21:00",
    "quiet_hours_end": "09:00",
}
CUSTOMER = {"name": "Bob Singh", "province": "BC"}


@pytest.mark.parametrize(
    ("typed", "stored", "shown"),
    [
        ("(514) 555-0123", "+15145550123", "(514) 555-0123"),
        ("514.555.0123", "+15145550123", "(514) 555-0123"),
        ("1 514 555 0123", "+15145550123", "(514) 555-0123"),
        ("+1 (514) 555-0123 ext 22", "+15145550123 ext. 22", "(514) 555-0123 ext. 22"),
        ("+44 20 7946 0958", "+442079460958", "+44 20 7946 0958"),
    ],
)
def test_phones_are_stored_e164_and_shown_nationally(typed, stored, shown):
    assert canada.normalise_phone(typed) == stored
    assert canada.display_phone(stored) == shown
    assert canada.phone_uri(stored) == stored.split(" ")[0]


@pytest.mark.parametrize("typed", ["abc", "12", "555-0123", "<script>alert(1)</script>", "1" * 41])
def test_bad_phones_are_refused(typed):
    with pytest.raises(canada.InvalidValue):
        canada.normalise_phone(typed)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("h2x1y4", "H2X 1Y4"), (" k1a 0b1 ", "K1A 0B1"), ("M5V-3L9", "M5V 3L9")],
)
def test_postal_codes_are_upper_case_with_one_space(typed, stored):
    assert canada.normalise_postal_code(typed) == stored


@pytest.mark.parametrize("typed", ["90210", "D1A 1A1", "W1A 1A1", "K1A 0O1", "K1A0B", "KKK 111"])
def test_postal_codes_with_letters_canada_post_does_not_use_are_refused(typed):
    with pytest.raises(canada.InvalidValue):
        canada.normalise_postal_code(typed)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("123456789 RT0001", "123456789 RT0001"),
        ("123456789rt0001", "123456789 RT0001"),
        ("123 456 789 RT 0001", "123456789 RT0001"),
        ("123456789-RT-0001", "123456789 RT0001"),
    ],
)
def test_gst_numbers_are_normalised(typed, stored):
    assert canada.normalise_gst_number(typed) == stored


@pytest.mark.parametrize("typed", ["12345", "123456789", "123456789 RT001", "123456789 TQ0001"])
def test_bad_gst_numbers_are_refused(typed):
    with pytest.raises(canada.InvalidValue):
        canada.normalise_gst_number(typed)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("1234567890 TQ0001", "1234567890 TQ0001"), ("1234567890tq0001", "1234567890 TQ0001")],
)
def test_qst_numbers_are_normalised(typed, stored):
    assert canada.normalise_qst_number(typed) == stored


@pytest.mark.parametrize("typed", ["xyz", "123456789 TQ0001", "1234567890 RT0001"])
def test_bad_qst_numbers_are_refused(typed):
    with pytest.raises(canada.InvalidValue):
        canada.normalise_qst_number(typed)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "abc", "Enter a phone number with its area code, like 514 555 0123."),
        (
            "gst_number",
            "12345",
            "Enter your GST/HST number as 9 digits, RT and 4 digits, like 123456789 RT0001.",
        ),
        (
            "qst_number",
            "xyz",
            "Enter your QST number as 10 digits, TQ and 4 digits, like 1234567890 TQ0001.",
        ),
        ("postal_code", "90210", "Enter a Canadian postal code like H2X 1Y4."),
    ],
)
def test_settings_refuse_bad_identifiers_with_a_clear_message_and_change_nothing(
    owner_client, company, field, value, message
):
    response = owner_client.post(reverse("dashboard:settings"), {**SETTINGS, field: value})
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert f'id="id_{field}_error"' in body
    company.refresh_from_db()
    assert company.name == "Maple Plumbing"


def test_settings_store_identifiers_normalised_and_show_the_phone_nationally(owner_client, company):
    data = {
        **SETTINGS,
        "phone": "514.555.0123",
        "postal_code": "h2x1y4",
        "gst_number": "123 456 789 rt 0001",
        "qst_number": "1234567890tq0001",
    }
    assert owner_client.post(reverse("dashboard:settings"), data).status_code == 302
    company.refresh_from_db()
    assert (company.phone, company.postal_code) == ("+15145550123", "H2X 1Y4")
    assert (company.gst_number, company.qst_number) == ("123456789 RT0001", "1234567890 TQ0001")
    page = owner_client.get(reverse("dashboard:settings")).content.decode()
    assert 'value="(514) 555-0123"' in page


def test_customer_phones_and_postal_codes_use_the_same_checks(owner_client, company):
    data = {**CUSTOMER, "phone": "604 555 0102", "postal_code": "v6b2k1"}
    assert owner_client.post(reverse("dashboard:customer_create"), data).status_code == 302
    customer = Customer.objects.get(company=company)
    assert (customer.phone, customer.postal_code) == ("+16045550102", "V6B 2K1")
    assert "(604) 555-0102" in owner_client.get(customer.get_absolute_url()).content.decode()
    listing = owner_client.get(reverse("dashboard:customer_list")).content.decode()
    assert "(604) 555-0102" in listing and "+16045550102" not in listing
    edit = owner_client.get(reverse("dashboard:customer_edit", args=[customer.public_id]))
    assert 'value="(604) 555-0102"' in edit.content.decode()
    bad = owner_client.post(
        reverse("dashboard:customer_create"), {**CUSTOMER, "phone": "abc", "postal_code": "W1A1A1"}
    )
    body = bad.content.decode()
    assert "Enter a phone number with its area code" in body
    assert "Enter a Canadian postal code like H2X 1Y4." in body
    assert Customer.objects.count() == 1


def test_invoices_portal_and_pdf_show_phones_nationally(customer, company, client):
    Company.objects.filter(pk=company.pk).update(
        phone="+15145550123", gst_number="123456789 RT0001"
    )
    Customer.objects.filter(pk=customer.pk).update(phone="+14165550199")
    company.refresh_from_db()
    customer.refresh_from_db()
    invoice = InvoiceFactory(customer=customer)
    issued = issue(customer, invoice)
    page = client.get(reverse("portal:invoice", args=[issued.token, invoice.public_id]))
    body = page.content.decode()
    assert "(514) 555-0123" in body and 'href="tel:+15145550123"' in body
    assert "123456789 RT0001" in body
    text = pages_text(pdf.render_invoice_pdf(invoice=invoice))[0]
    assert "(514) 555-0123" in text and "(416) 555-0199" in text
    assert "+1514" not in text


def test_bad_data_saved_before_the_checks_is_shown_as_it_is_never_a_500(
    owner_client, customer, company, client
):
    Company.objects.filter(pk=company.pk).update(
        phone="abc", gst_number="12345", qst_number="xyz", postal_code="zzz"
    )
    Customer.objects.filter(pk=customer.pk).update(phone="call the office", postal_code="12")
    company.refresh_from_db()
    customer.refresh_from_db()
    settings_page = owner_client.get(reverse("dashboard:settings"))
    assert settings_page.status_code == 200 and 'value="abc"' in settings_page.content.decode()
    detail = owner_client.get(customer.get_absolute_url())
    assert detail.status_code == 200 and "call the office" in detail.content.decode()
    assert owner_client.get(reverse("dashboard:customer_list")).status_code == 200
    invoice = InvoiceFactory(customer=customer)
    issued = issue(customer, invoice)
    page = client.get(reverse("portal:invoice", args=[issued.token, invoice.public_id]))
    assert page.status_code == 200
    assert "abc" in page.content.decode() and "12345" in page.content.decode()
    text = pages_text(pdf.render_invoice_pdf(invoice=invoice))[0]
    assert "abc" in text and "call the office" in text
    # Saving the settings again asks for a valid phone instead of keeping the bad one silently.
    resave = owner_client.post(reverse("dashboard:settings"), {**SETTINGS, "phone": "abc"})
    assert "Enter a phone number" in resave.content.decode()
