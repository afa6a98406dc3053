"""Which document a link may cover and whom it goes to by default (mutation survivors of
portal.services._check_document and primary_contact): a link to another customer's document, to
a draft estimate or to a draft invoice is refused in full words and nothing is made; sharing
without naming contacts goes to the customer's primary contact only, never to another contact
or to a primary contact taken off the customer."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from crewcommand import services as core_services
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.models import Contact
from portal import services
from portal.models import LinkChannel, PortalLink
from tests.factories import CustomerFactory, EstimateFactory, InvoiceFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _no_twilio(settings):
    settings.TWILIO_ENABLED = False


def _refusal(owner_client, kind: str, document) -> str:
    """The alert the links panel shows after "Create link" on ``document``."""
    response = owner_client.post(
        reverse("portal_dashboard:link_create", args=[kind, document.public_id]), **HTMX
    )
    alert = re.search(r'role="alert">(.*?)</div>', response.content.decode(), re.S)
    assert alert is not None
    return alert.group(1).strip()


def _emails(document) -> list[list[str]]:
    return [m.to for m in mail.outbox if document.display_number in m.subject]


# --- Which document a link may cover -------------------------------------------------------------


def test_a_link_to_another_customers_estimate_is_refused_in_full_words(company, customer):
    theirs = EstimateFactory(customer=CustomerFactory(company=company, name="Bob Roy"))
    links = PortalLink.objects.count()  # sending Bob's estimate gave Bob his own link
    with pytest.raises(ServiceError) as refused:
        issue(customer, theirs)
    assert str(refused.value) == "That document belongs to another customer."
    assert PortalLink.objects.count() == links


def test_a_draft_estimate_gets_no_link_and_the_panel_says_why_in_full(owner_client, customer):
    draft = EstimateFactory(customer=customer, sent=False)
    assert _refusal(owner_client, "estimate", draft) == (
        "Send the estimate first: customers only see sent estimates."
    )
    assert not PortalLink.objects.exists()


def test_a_draft_invoice_gets_no_link_and_the_panel_says_why_in_full(owner_client, customer, job):
    draft = InvoiceFactory(customer=customer, job=job, sent=False)
    assert _refusal(owner_client, "invoice", draft) == (
        "Send the invoice first: customers only see sent invoices."
    )
    assert not PortalLink.objects.exists()


# --- Whom a shared document goes to by default ---------------------------------------------------


def test_a_customer_without_a_primary_contact_gets_it_at_their_own_address_not_another_contacts(
    owner, estimate, django_capture_on_commit_callbacks
):
    """A customer made before contacts existed, to whom the office then added Ben: sharing
    without naming contacts emails the customer, not Ben (Ben is not the primary contact)."""
    customer = estimate.customer
    Contact.objects.filter(customer=customer).delete()
    actor = Actor.member(owner.user)
    core_services.contact_save(
        customer=customer, actor=actor, fields={"name": "Ben Tremblay", "email": "ben@example.com"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        link = services.share_document(document=estimate, actor=actor)
    assert _emails(estimate) == [[customer.email]]
    assert link.contact is None
    assert (link.channel, link.sent_to) == (LinkChannel.EMAIL, customer.email)


def test_a_primary_contact_taken_off_in_the_admin_gets_no_link(
    owner, estimate, django_capture_on_commit_callbacks
):
    """Staff marked the primary contact removed in the admin, with an old address: sharing
    emails the customer's own address and gives the link to no removed contact."""
    customer = estimate.customer
    Contact.objects.filter(customer=customer, is_primary=True).update(
        removed_at=timezone.now(), email="alice.old@example.com"
    )
    with django_capture_on_commit_callbacks(execute=True):
        link = services.share_document(document=estimate, actor=Actor.member(owner.user))
    assert _emails(estimate) == [[customer.email]]
    assert link.contact is None
    assert (link.channel, link.sent_to) == (LinkChannel.EMAIL, customer.email)
