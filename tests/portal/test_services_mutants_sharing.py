"""Sharing a document as the contractor and the customer see it (mutation survivors of
portal.services.share_document and _share_with): only email is offered; by default the link goes
to the primary contact, by text if they asked for texts; a contact who prefers texts is texted,
their link marked as texted; a customer made before contacts existed still gets the document
(with the note, inside a Send the Send's own link, texted once when they prefer texts); one
without an email address gets a link and no message; every delivery is on the timeline."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor, describe
from crewcommand.messaging import outbox
from crewcommand.models import Activity, Contact, Customer, Message
from documents.models import Estimate
from portal import services
from portal.models import LinkChannel, PortalLink
from portal.tokens import token_hash
from tests.factories import CustomerFactory, EstimateFactory

pytestmark = pytest.mark.django_db

NOTE = "Thanks for having us over on Tuesday."
ALICE_PHONE = "+14165550123"
BEN_PHONE = "+14165550188"


@pytest.fixture(autouse=True)
def _no_twilio(settings):
    settings.TWILIO_ENABLED = False


def _sentences(verb: str) -> list[str]:
    return [describe(row) for row in Activity.objects.filter(verb=verb).order_by("id")]


def _emails(document: Estimate) -> list[list[str]]:
    return [m.to for m in mail.outbox if document.display_number in m.subject]


def _texts(template: str = "portal_link") -> list[str]:
    """Whom the link was texted to by sharing (or, ``"automation:"``, by the Send's automation)."""
    rows = Message.objects.filter(channel="sms", template__startswith=template)
    return list(rows.values_list("to", flat=True))


def _without_contacts(customer: Customer) -> Customer:
    """A customer made before contacts existed: no contact rows at all."""
    Contact.objects.filter(customer=customer).delete()
    return customer


# --- What share_document offers ------------------------------------------------------------------


def test_only_email_delivery_is_offered_and_nothing_is_made(estimate):
    links, messages = PortalLink.objects.count(), Message.objects.count()
    with pytest.raises(ServiceError) as refused:
        services.share_document(document=estimate, actor=Actor.system(), channel="sms")
    assert str(refused.value) == "Only email delivery is available for now."
    assert (PortalLink.objects.count(), Message.objects.count()) == (links, messages)


def test_sharing_without_a_note_emails_the_link_and_the_timeline_says_so_plainly(
    estimate, django_capture_on_commit_callbacks
):
    customer = estimate.customer
    with django_capture_on_commit_callbacks(execute=True):
        link = services.share_document(document=estimate, actor=Actor.system())
    assert _emails(estimate) == [[customer.email]]
    assert _sentences("portal_link.emailed") == [
        f"CrewCommand emailed portal link {link.reference} to {customer.email}"
    ]
    assert _sentences("portal_link.emailed_with_note") == []


def test_by_default_the_primary_contact_gets_the_link_by_text_when_they_asked_for_texts(
    company, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(company=company, name="Alice Tremblay", phone=ALICE_PHONE)
    primary = customer.contacts.get(is_primary=True)
    primary.preferred_channel = "sms"
    primary.save(update_fields=["preferred_channel"])
    estimate = EstimateFactory(customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        link = services.share_document(document=estimate, actor=Actor.system())
    assert link.contact == primary
    assert (link.channel, link.sent_to) == (LinkChannel.SMS, ALICE_PHONE)
    assert _texts() == [ALICE_PHONE] and _emails(estimate) == []
    assert _sentences("portal_link.texted") == [
        f"CrewCommand texted portal link {link.reference} to {ALICE_PHONE}"
    ]


def test_a_contact_who_prefers_texts_is_texted_their_own_link(
    owner, estimate, django_capture_on_commit_callbacks
):
    customer = estimate.customer
    ben = Contact.objects.create(
        company=customer.company,
        customer=customer,
        name="Ben Tremblay",
        email="ben@example.com",
        phone=BEN_PHONE,
        preferred_channel="sms",
        role="spouse",
    )
    actor = Actor.member(owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        link = services.share_document(document=estimate, actor=actor, contacts=[ben])
    link = PortalLink.objects.get(pk=link.pk)
    assert link.contact == ben
    assert (link.channel, link.sent_to) == (LinkChannel.SMS, BEN_PHONE)
    assert _texts() == [BEN_PHONE] and _emails(estimate) == []
    # The text carries Ben's own link.
    text = Message.objects.get(channel="sms", template="portal_link")
    token = re.search(r"/p/([A-Za-z0-9_-]{43})/", outbox.full_text(text)["body"])
    assert token and token_hash(token.group(1)) == link.token_hash
    assert _sentences("portal_link.texted") == [
        f"{actor.label} texted portal link {link.reference} to {BEN_PHONE}"
    ]


# --- A customer made before contacts existed ------------------------------------------------------


def test_a_customer_without_contacts_still_gets_the_document_with_the_note(
    owner, estimate, django_capture_on_commit_callbacks
):
    customer = _without_contacts(estimate.customer)
    actor = Actor.member(owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        link = services.share_document(document=estimate, actor=actor, note=NOTE)
    assert link is not None and PortalLink.objects.filter(estimate=estimate).latest("id") == link
    assert link.contact is None and link.customer == customer
    assert (link.channel, link.sent_to) == (LinkChannel.EMAIL, customer.email)
    [email] = [m for m in mail.outbox if estimate.display_number in m.subject]
    assert email.to == [customer.email] and NOTE in email.body
    assert _sentences("portal_link.emailed_with_note") == [
        f"{actor.label} emailed portal link {link.reference} to {customer.email} "
        f"with a note: “{NOTE}”"
    ]


def test_a_customer_without_contacts_or_email_gets_a_link_and_no_message(company):
    customer = _without_contacts(CustomerFactory(company=company, email=""))
    estimate = EstimateFactory(customer=customer)
    messages = Message.objects.count()
    link = services.share_document(document=estimate, actor=Actor.system())
    assert link.contact is None and link.sent_to == ""
    assert Message.objects.count() == messages
    assert _sentences("portal_link.emailed") == [] and _sentences("portal_link.texted") == []


def _send_to(customer: Customer, preferred: str, capture) -> Estimate:
    customer.phone, customer.preferred_channel = ALICE_PHONE, preferred
    customer.save(update_fields=["phone", "preferred_channel"])
    estimate = EstimateFactory(customer=customer, sent=False)
    with capture(execute=True):
        services.estimate_deliver(estimate=estimate, actor=Actor.system())
    return estimate


def test_a_send_to_a_customer_without_contacts_who_prefers_texts_texts_one_link_only(
    customer, django_capture_on_commit_callbacks
):
    _without_contacts(customer)
    estimate = _send_to(customer, "sms", django_capture_on_commit_callbacks)
    [link] = PortalLink.objects.filter(estimate=estimate)
    assert (link.channel, link.sent_to) == (LinkChannel.SMS, ALICE_PHONE)
    assert _texts("automation:") == [ALICE_PHONE]  # the automation's, with the Send's link
    assert _texts() == []  # not texted twice
    assert _emails(estimate) == []  # no email of the same link
    assert _sentences("portal_link.texted") == [
        f"CrewCommand texted portal link {link.reference} to {ALICE_PHONE}"
    ]


def test_a_send_to_a_customer_without_contacts_who_likes_both_texts_and_emails_one_link(
    customer, django_capture_on_commit_callbacks
):
    _without_contacts(customer)
    estimate = _send_to(customer, "both", django_capture_on_commit_callbacks)
    [link] = PortalLink.objects.filter(estimate=estimate)
    assert (link.channel, link.sent_to) == (LinkChannel.EMAIL, customer.email)
    assert _texts("automation:") == [ALICE_PHONE] and _texts() == []
    assert _emails(estimate) == [[customer.email]]
    assert _sentences("portal_link.emailed") == [
        f"CrewCommand emailed portal link {link.reference} to {customer.email}"
    ]


def test_a_send_texts_the_sends_link_to_a_primary_contact_who_asked_for_texts(
    customer, django_capture_on_commit_callbacks
):
    primary = customer.contacts.get(is_primary=True)
    primary.preferred_channel = "sms"
    primary.save(update_fields=["preferred_channel"])
    estimate = _send_to(customer, "email", django_capture_on_commit_callbacks)
    [link] = PortalLink.objects.filter(estimate=estimate)
    assert link.contact == primary
    assert (link.channel, link.sent_to) == (LinkChannel.SMS, ALICE_PHONE)
    assert _texts() == [ALICE_PHONE] and _emails(estimate) == []
    assert _sentences("portal_link.texted") == [
        f"CrewCommand texted portal link {link.reference} to {ALICE_PHONE}"
    ]


def test_a_send_to_another_contact_keeps_the_texted_link_recorded_as_texted(
    customer, django_capture_on_commit_callbacks
):
    """The Send's automation texts the Send's link to the customer's number; the Send itself goes
    to a second contact only (their own link). The Send's link is on record as texted to that
    number, not as emailed to an address it never went to."""
    ben = Contact.objects.create(
        company=customer.company,
        customer=customer,
        name="Ben Tremblay",
        email="ben@example.com",
        role="spouse",
    )
    customer.phone, customer.preferred_channel = ALICE_PHONE, "sms"
    customer.save(update_fields=["phone", "preferred_channel"])
    estimate = EstimateFactory(customer=customer, sent=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.estimate_deliver(estimate=estimate, actor=Actor.system(), contacts=[ben])
    assert _texts("automation:") == [ALICE_PHONE]
    texted, bens = PortalLink.objects.filter(estimate=estimate).order_by("id")
    assert (texted.channel, texted.sent_to) == (LinkChannel.SMS, ALICE_PHONE)
    assert bens.contact == ben and (bens.channel, bens.sent_to) == (LinkChannel.EMAIL, ben.email)
    assert _emails(estimate) == [[ben.email]]
