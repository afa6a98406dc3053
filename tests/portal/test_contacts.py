"""Contacts (issue 18, point 1): a customer has several people; each gets their own link when a
document is sent to them, revocable alone; a removed contact's links stop; the signature names
the contact; "send me a fresh link" works for any contact on file and only to their own
address. The customer page's contacts panel: add, edit, remove, with htmx or plain forms."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crewcommand.lib.activity import Actor
from crewcommand.models import Contact, Customer, Message
from portal import services
from portal.models import PortalLink
from tests.factories import CustomerFactory
from tests.portal.helpers import accept_data, issue

pytestmark = pytest.mark.django_db


def test_every_customer_has_a_primary_contact_in_step_with_it(company):
    customer = CustomerFactory(company=company, name="Lee", email="lee@example.com")
    [primary] = customer.contacts.all()
    assert primary.is_primary and primary.name == "Lee" and primary.email == "lee@example.com"
    customer.email = "lee@new.example.com"
    customer.save()
    primary.refresh_from_db()
    assert primary.email == "lee@new.example.com"


def test_the_data_migration_gives_existing_customers_a_primary_contact(company):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("crewcommand.migrations.0009_customer_contacts")
    customer = CustomerFactory(company=company, phone="(514) 555-0123", language="fr-ca")
    Contact.objects.filter(customer=customer).delete()
    migration.primary_contacts(apps, None)
    primary = Contact.objects.get(customer=customer)
    assert primary.is_primary and primary.name == customer.name
    assert primary.phone == "+15145550123" and primary.language == "fr-ca"
    migration.primary_contacts(apps, None)  # idempotent
    assert Contact.objects.filter(customer=customer).count() == 1


def _send(client, estimate, contacts, note=""):
    url = reverse("documents:estimate_action", args=[estimate.public_id, "send"])
    data = {"last_sent": services.sent_stamp(estimate), "note": note, "contacts_shown": "1"}
    data["contacts"] = [c.public_id for c in contacts]
    return client.post(url, data)


def test_send_to_two_contacts_gives_each_their_own_link(
    owner_client, customer, ben, django_capture_on_commit_callbacks
):
    from tests.factories import EstimateFactory

    estimate = EstimateFactory(customer=customer, sent=False)
    url = reverse("documents:estimate_action", args=[estimate.public_id, "send"])
    dialog = owner_client.get(url).content.decode()
    assert "Ben Tremblay" in dialog and "Alice Tremblay" in dialog and "Send to" in dialog
    primary = customer.contacts.get(is_primary=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = _send(owner_client, estimate, [primary, ben])
    assert response.status_code == 302
    links = PortalLink.objects.filter(estimate=estimate, channel="email")
    assert {(link.contact, link.sent_to) for link in links} == {
        (primary, customer.email),
        (ben, "ben@example.com"),
    }
    to = sorted(m.to[0] for m in mail.outbox if estimate.display_number in m.subject)
    assert to == sorted([customer.email, "ben@example.com"])
    ben_mail = next(m for m in mail.outbox if m.to == ["ben@example.com"])
    assert "Hello Ben Tremblay" in ben_mail.body


def test_unticking_everyone_is_refused_and_sends_nothing(owner_client, customer, ben):
    from tests.factories import EstimateFactory

    estimate = EstimateFactory(customer=customer, sent=False)
    response = _send(owner_client, estimate, [])
    assert "Choose who gets it: at least one contact." in response.content.decode()
    estimate.refresh_from_db()
    assert estimate.sent_at is None and not PortalLink.objects.filter(estimate=estimate).exists()
    other = CustomerFactory(company=customer.company).contacts.get()
    response = _send(owner_client, estimate, [other])
    assert "Choose among the customer&#x27;s contacts." in response.content.decode()
    estimate.refresh_from_db()
    assert estimate.sent_at is None


def test_revoking_one_contacts_link_leaves_the_others(customer, ben, estimate):
    first = issue(customer, estimate)
    second = issue(customer, estimate, contact=ben)
    services.link_revoke(link=first.link, actor=Actor.system())
    client = Client()
    assert client.get(f"/p/{first.token}/estimates/{estimate.public_id}/").status_code == 404
    assert client.get(f"/p/{second.token}/estimates/{estimate.public_id}/").status_code == 200


def test_removing_a_contact_revokes_only_their_links(owner_client, customer, ben, estimate):
    first = issue(customer, estimate)
    second = issue(customer, estimate, contact=ben)
    url = reverse("dashboard:contact_remove", args=[customer.public_id, ben.public_id])
    response = owner_client.post(url, HTTP_HX_REQUEST="true")
    assert "Contact Ben Tremblay removed." in response.content.decode()
    second.link.refresh_from_db()
    first.link.refresh_from_db()
    assert second.link.revoked_at is not None and first.link.revoked_at is None
    assert "Ben Tremblay" not in response.content.decode().split("removed.")[1]
    # The primary contact can't be removed: said so, nothing changed.
    primary = customer.contacts.get(is_primary=True)
    url = reverse("dashboard:contact_remove", args=[customer.public_id, primary.public_id])
    response = owner_client.post(url, HTTP_HX_REQUEST="true")
    assert "The primary contact can&#x27;t be removed" in response.content.decode()
    primary.refresh_from_db()
    assert primary.removed_at is None


def test_the_signature_names_the_contact(customer, ben, estimate):
    issued = issue(customer, estimate, contact=ben)
    response = Client().post(
        f"/p/{issued.token}/estimates/{estimate.public_id}/accept/", accept_data(estimate)
    )
    assert response.status_code == 302
    from portal.models import Signature

    signature = Signature.objects.get(estimate=estimate)
    assert signature.contact == ben and signature.contact_name == "Ben Tremblay"
    from portal import selectors

    assert selectors.certificate(signature=signature)["contact_name"] == "Ben Tremblay"
    assert services.signature_verify(signature=signature).ok


def _expired(customer, estimate, contact=None):
    issued = issue(customer, estimate, contact=contact)
    PortalLink.objects.filter(pk=issued.link.pk).update(
        expires_at=timezone.now() - dt.timedelta(days=1)
    )
    issued.link.refresh_from_db()
    return issued


def test_a_fresh_link_goes_to_the_matching_contact_and_only_to_their_own_address(
    customer, ben, estimate, settings
):
    settings.TWILIO_ENABLED = False
    expired = _expired(customer, estimate)
    # Ben's email typed differently: the link goes to the address on file, to Ben.
    assert services.fresh_link_request(link=expired.link, contact="  BEN@Example.com ")
    fresh = PortalLink.objects.get(channel="fresh")
    assert fresh.contact == ben and fresh.sent_to == "ben@example.com"
    message = Message.objects.filter(template="portal_link").latest("id")
    assert message.to == "ben@example.com"
    # By mobile number: a text to Ben's own number.
    expired = _expired(customer, estimate)
    assert services.fresh_link_request(link=expired.link, contact="416-555-0188")
    texted = PortalLink.objects.filter(channel="fresh").latest("id")
    assert texted.contact == ben and texted.sent_to == "+14165550188"
    assert Message.objects.filter(channel="sms", to="+14165550188").exists()
    # Someone else's address: nothing.
    before = PortalLink.objects.count()
    expired = _expired(customer, estimate)
    assert not services.fresh_link_request(link=expired.link, contact="mallory@example.com")
    assert PortalLink.objects.count() == before + 1  # only the expired one made here


def test_a_removed_contact_gets_no_fresh_link(customer, ben, estimate):
    expired = _expired(customer, estimate)
    ben.removed_at = timezone.now()
    ben.save()
    assert not services.fresh_link_request(link=expired.link, contact="ben@example.com")


# --- The contacts panel ---------------------------------------------------------------------------


def _valid(**overrides) -> dict:
    data = {
        "name": "Pat Manager",
        "role": "property_manager",
        "email": "pat@example.com",
        "phone": "(514) 555-0199",
        "preferred_channel": "sms",
        "email_consent": "on",
        "sms_consent": "on",
        "language": "fr-ca",
    }
    data.update(overrides)
    return data


def test_add_edit_remove_with_htmx(owner_client, customer):
    page = owner_client.get(customer.get_absolute_url()).content.decode()
    assert 'id="contacts-panel"' in page and "Add a contact" in page
    url = reverse("dashboard:contact_create", args=[customer.public_id])
    form = owner_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Save contact" in form and "<html" not in form
    response = owner_client.post(url, _valid(), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "Contact Pat Manager added." in body
    pat = customer.contacts.get(name="Pat Manager")
    assert pat.phone == "+15145550199" and pat.language == "fr-ca" and not pat.is_primary
    edit = reverse("dashboard:contact_edit", args=[customer.public_id, pat.public_id])
    response = owner_client.post(edit, _valid(name="Pat Lee"), HTTP_HX_REQUEST="true")
    assert "Contact Pat Lee saved." in response.content.decode()
    remove = reverse("dashboard:contact_remove", args=[customer.public_id, pat.public_id])
    owner_client.post(remove, HTTP_HX_REQUEST="true")
    pat.refresh_from_db()
    assert pat.removed_at is not None
    assert owner_client.post(edit, _valid()).status_code == 404  # removed: gone from the panel


def test_plain_forms_work_without_javascript(owner_client, customer):
    url = reverse("dashboard:contact_create", args=[customer.public_id])
    page = owner_client.get(url).content.decode()
    assert "<html" in page and "Add a contact" in page
    response = owner_client.post(url, _valid())
    assert response.status_code == 302 and response["Location"] == customer.get_absolute_url()
    page = owner_client.get(customer.get_absolute_url()).content.decode()
    assert "Contact Pat Manager added." in page and "Pat Manager" in page


def test_editing_the_primary_contact_changes_the_customers_email_and_phone(owner_client, customer):
    primary = customer.contacts.get(is_primary=True)
    edit = reverse("dashboard:contact_edit", args=[customer.public_id, primary.public_id])
    owner_client.post(edit, _valid(name="Alice T.", email="alice@new.example.com"))
    customer.refresh_from_db()
    assert customer.email == "alice@new.example.com" and customer.phone == "+15145550199"
    assert customer.name == "Alice Tremblay"  # the customer's own name is the customer's


BAD = [
    ({"name": ""}, "This field is required."),
    ({"email": "", "phone": ""}, "Give an email address or a mobile number."),
    ({"phone": "555"}, "Enter a phone number with its area code"),
    ({"email": "not-an-email"}, "Enter a valid email address."),
    ({"phone": "", "preferred_channel": "sms"}, "Texts need a mobile number."),
    ({"email": "", "preferred_channel": "email"}, "Emails need an email address."),
    ({"role": "king"}, "Select a valid choice."),
    ({"name": "x" * 151}, "Ensure this value has at most 150 characters"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_input_gets_a_clear_message_and_changes_nothing(
    owner_client, customer, change, message
):
    before = list(Contact.objects.values_list("id", "name", "email", "phone", "updated_at"))
    url = reverse("dashboard:contact_create", args=[customer.public_id])
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = owner_client.post(url, _valid(**change), **headers)
        assert response.status_code == 200
        assert message in response.content.decode().replace("&#x27;", "'")
    primary = customer.contacts.get(is_primary=True)
    edit = reverse("dashboard:contact_edit", args=[customer.public_id, primary.public_id])
    response = owner_client.post(edit, _valid(**change), HTTP_HX_REQUEST="true")
    assert message in response.content.decode().replace("&#x27;", "'")
    after = list(Contact.objects.values_list("id", "name", "email", "phone", "updated_at"))
    assert after == before
    assert Customer.objects.get(pk=customer.pk).email == customer.email


def test_another_companys_contact_is_404(owner_client, customer, outsider):
    foreign = CustomerFactory(company=outsider.company)
    contact = foreign.contacts.get()
    for name in ("dashboard:contact_edit", "dashboard:contact_remove"):
        # Their customer in the URL, or ours with their contact: 404 either way.
        url = reverse(name, args=[foreign.public_id, contact.public_id])
        assert owner_client.post(url, _valid()).status_code == 404
        url = reverse(name, args=[customer.public_id, contact.public_id])
        assert owner_client.post(url, _valid()).status_code == 404
    contact.refresh_from_db()
    assert contact.removed_at is None and contact.name == foreign.name


def test_the_links_panel_names_each_links_contact(owner_client, customer, ben, estimate):
    issue(customer, estimate, contact=ben)
    url = reverse("portal_dashboard:links_panel", args=["estimate", estimate.public_id])
    body = owner_client.get(url).content.decode()
    assert re.search(r"For Ben Tremblay", body)
