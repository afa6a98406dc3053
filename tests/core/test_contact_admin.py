"""Contacts in the Django admin: staff take a contact off through the same service as the
dashboard (so its portal links are revoked and the customer's timeline says so); whose a contact
is, which one is primary, and a primary contact's details (a mirror of the customer's) can't be
changed there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crewcommand.models import Contact
from portal.models import PortalLink
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam(customer):
    return Contact.objects.create(
        company=customer.company, customer=customer, name="Sam Tenant", email="sam@example.com"
    )


def _take_off(admin_client, *contacts):
    return admin_client.post(
        reverse("admin:crewcommand_contact_changelist"),
        {"action": "take_off", "_selected_action": [c.pk for c in contacts]},
        follow=True,
    )


def test_taking_a_contact_off_in_the_admin_revokes_their_links(admin_client, customer, sam):
    link = issue(customer, contact=sam).link
    page = _take_off(admin_client, sam).content.decode()
    assert "Sam Tenant was taken off." in page
    sam.refresh_from_db()
    link.refresh_from_db()
    assert sam.removed_at is not None and link.revoked_at is not None
    assert customer.activities.filter(verb="contact.removed").count() == 1


def test_the_primary_contact_is_not_taken_off_and_the_admin_says_why(admin_client, customer):
    primary = customer.contacts.get(is_primary=True)
    link = issue(customer).link
    page = _take_off(admin_client, primary).content.decode()
    assert "The primary contact can&#x27;t be removed" in page
    primary.refresh_from_db()
    link.refresh_from_db()
    assert primary.removed_at is None and link.revoked_at is None


def test_removal_owner_and_primary_are_not_fields_of_the_change_form(admin_client, customer, sam):
    url = reverse("admin:crewcommand_contact_change", args=[sam.pk])
    page = admin_client.get(url).content.decode()
    for field in ("removed_at", "is_primary", "customer", "company"):
        assert f'name="{field}"' not in page
    data = {
        "name": "Sam Tenant",
        "email": "sam@example.com",
        "phone": "",
        "role": sam.role,
        "preferred_channel": "",
        "language": "",
        "email_consent": "on",
        "sms_consent": "on",
        "removed_at_0": "2026-01-01",
        "removed_at_1": "10:00",
        "is_primary": "on",
    }
    assert admin_client.post(url, data).status_code == 302
    sam.refresh_from_db()
    assert sam.removed_at is None and not sam.is_primary
    assert PortalLink.objects.filter(revoked_at__isnull=False).count() == 0


def test_a_primary_contacts_details_are_edited_on_the_customer(admin_client, customer):
    primary = customer.contacts.get(is_primary=True)
    page = admin_client.get(
        reverse("admin:crewcommand_contact_change", args=[primary.pk])
    ).content.decode()
    assert 'name="email"' not in page and 'name="name"' not in page
    assert 'name="role"' in page


def test_a_contact_added_in_the_admin_belongs_to_its_customers_company(admin_client, customer):
    data = {
        "customer": customer.pk,
        "name": "Pat Manager",
        "email": "pat@example.com",
        "phone": "",
        "role": "property_manager",
        "preferred_channel": "",
        "language": "",
        "email_consent": "on",
        "sms_consent": "on",
    }
    response = admin_client.post(reverse("admin:crewcommand_contact_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Contact.objects.get(name="Pat Manager").company == customer.company
