"""One-line text (names, titles, references) is normalised on input, and emails still go out
for names stored with line breaks before that: Django refuses a header holding a line break,
which silently dropped the customer's email."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import TestCase
from django.urls import reverse

from crewcommand.forms import CompanyForm, SignupForm
from crewcommand.lib.activity import Actor
from crewcommand.lib.text import single_line
from crewcommand.models import Customer
from documents import services as documents
from tests.factories import LineItemFactory
from tests.portal.helpers import send_data

pytestmark = pytest.mark.django_db

HOSTILE_NAME = "Alice\r\nBcc: x@evil"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Alice\r\nBcc: x@evil", "Alice Bcc: x@evil"),
        ("  Bob \t  Singh  ", "Bob Singh"),
        ("Zoé\x00\x1b[31m Côté", "Zoé[31m Côté"),
        ("Line\u2028Sep\u0085Next", "Line Sep Next"),
        ("Dépannage 🔧 Lévis", "Dépannage 🔧 Lévis"),
    ],
)
def test_single_line_flattens_breaks_and_drops_control_characters(typed, stored):
    assert single_line(typed) == stored


def test_a_customer_named_with_a_line_break_is_stored_as_one_line(owner_client, company):
    data = {"name": HOSTILE_NAME, "email": "alice@example.com", "city": "Ottawa\r\n\r\nEvil"}
    response = owner_client.post(reverse("dashboard:customer_create"), data)
    assert response.status_code == 302
    customer = Customer.objects.get(company=company)
    assert customer.name == "Alice Bcc: x@evil"
    assert customer.city == "Ottawa Evil"


def test_company_and_signup_names_are_normalised_too(company):
    form = CompanyForm(
        data={
            "name": "  Maple\nPlumbing\t Inc. ",
            "province": "ON",
            "timezone": "America/Toronto",
            "brand_color": "#1d4ed8",
            "portal_link_days": "60",
            "default_language": "en-ca",
            "quiet_hours_start": "21:00",
            "quiet_hours_end": "09:00",
        },
        instance=company,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["name"] == "Maple Plumbing Inc."
    signup = SignupForm(
        data={
            "company_name": "Acme\r\nBcc: x@evil",
            "province": "ON",
            "full_name": "Ann\x00 Lee",
            "email": "ann@example.com",
            "password": "a-long-Passphrase-2026",
        }
    )
    assert signup.is_valid(), signup.errors
    assert signup.cleaned_data["company_name"] == "Acme Bcc: x@evil"
    assert signup.cleaned_data["full_name"] == "Ann Lee"


def test_email_to_a_customer_whose_name_predates_the_fix_still_goes_out(
    owner, owner_client, company, customer
):
    actor = Actor.member(owner.user)
    estimate = documents.estimate_create(company=company, customer=customer, actor=actor)
    # Rows written before input normalisation can still hold line breaks.
    Customer.objects.filter(pk=customer.pk).update(name=HOSTILE_NAME)
    type(company).objects.filter(pk=company.pk).update(name="Maple\r\nBcc: y@evil Plumbing")
    LineItemFactory(doc=estimate, actor=actor)
    with TestCase.captureOnCommitCallbacks(execute=True):
        owner_client.post(
            reverse("documents:estimate_action", args=[estimate.public_id, "send"]),
            send_data(estimate),
        )
    (message,) = mail.outbox
    assert message.to == [customer.email]
    assert message.from_email == '"Maple Bcc: y@evil Plumbing" <no-reply@crewcommand.localhost>'
    headers = message.message().as_string().split("\n\n", 1)[0]
    assert "Bcc" not in [line.split(":", 1)[0] for line in headers.splitlines()]
    assert "\r" not in message.subject and "\n" not in message.subject
