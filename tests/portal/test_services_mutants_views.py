"""What the customer and the contractor see of the portal's services at their edges: a document
first viewed (only that one, once, at the time it was opened, on the timeline), the customer
choosing a language, a short mobile number asking for a fresh link, a removed contact's links,
delivering estimates and invoices (notes, contacts, one link, one send per preview) and the note
excerpt on the timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone, translation

from crewcommand.errors import ServiceError
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.models import Activity, Contact, Customer, Message
from documents.models import Estimate, EstimateStatus, Invoice, InvoiceStatus
from portal import services
from portal.models import PortalLink
from tests.factories import CompanyFactory, CustomerFactory, EstimateFactory, InvoiceFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db


def _rows(verb: str, **filters):
    return Activity.objects.filter(verb=verb, **filters)


# --- A document first viewed ---------------------------------------------------------------------


def test_the_first_view_marks_only_that_estimate_viewed_when_it_was_opened(
    customer, estimate, estimate_link, owner_client
):
    other = EstimateFactory(customer=customer)
    opened = timezone.now() - dt.timedelta(hours=3)
    before = Estimate.objects.get(pk=estimate.pk).updated_at

    assert services.document_mark_viewed(document=estimate, link=estimate_link.link, at=opened)

    row = Estimate.objects.get(pk=estimate.pk)
    assert row.status == EstimateStatus.VIEWED and row.viewed_at == opened
    assert row.updated_at > before  # the document shows as changed just now
    assert Estimate.objects.get(pk=other.pk).status == EstimateStatus.SENT  # not opened yet
    [viewed] = _rows("estimate.viewed")
    assert viewed.target_id == estimate.pk and viewed.target_type.model == "estimate"
    assert viewed.customer == customer
    assert viewed.data == {
        "number": estimate.display_number,
        "reference": estimate_link.link.reference,
    }
    sentence = f"Alice Tremblay viewed estimate {estimate.display_number}"
    assert activity.describe(viewed) == sentence
    # The contractor sees it on the estimate's page.
    assert sentence in owner_client.get(estimate.get_absolute_url()).content.decode()


def test_a_view_without_a_time_is_stamped_now(customer, invoice, invoice_link):
    start = timezone.now()
    assert services.document_mark_viewed(document=invoice, link=invoice_link.link)
    row = Invoice.objects.get(pk=invoice.pk)
    assert row.status == InvoiceStatus.VIEWED
    assert row.viewed_at is not None and start <= row.viewed_at <= timezone.now()


def test_later_views_and_answered_estimates_are_left_alone(customer, estimate, estimate_link):
    link = estimate_link.link
    assert services.document_mark_viewed(document=estimate, link=link)
    first = Estimate.objects.get(pk=estimate.pk).viewed_at
    assert not services.document_mark_viewed(document=estimate, link=link)
    assert Estimate.objects.get(pk=estimate.pk).viewed_at == first
    assert _rows("estimate.viewed").count() == 1
    # An estimate the customer already accepted stays accepted when opened again.
    accepted = EstimateFactory(customer=customer, signed=True)
    assert Estimate.objects.get(pk=accepted.pk).status == EstimateStatus.ACCEPTED
    assert not services.document_mark_viewed(document=accepted, link=issue(customer).link)
    assert Estimate.objects.get(pk=accepted.pk).status == EstimateStatus.ACCEPTED
    assert _rows("estimate.viewed").count() == 1


# --- The customer choosing a language ------------------------------------------------------------


def test_choosing_a_language_is_on_the_customers_timeline_once(customer, customer_link):
    services.choose_language(link=customer_link.link, language="fr-ca")
    [row] = _rows("customer.updated")
    assert row.data == {"name": "Alice Tremblay"} and row.customer == customer
    assert activity.describe(row) == "Alice Tremblay updated customer Alice Tremblay"
    services.choose_language(link=customer_link.link, language="fr-ca")  # no change: no row
    assert _rows("customer.updated").count() == 1


def test_choosing_a_language_sends_nothing_to_quickbooks(company, customer, customer_link):
    """QuickBooks has no language for a customer: the choice queues no push of the customer."""
    from billing.quickbooks import sync
    from billing.quickbooks.models import (
        ConnectionStatus,
        QuickBooksConnection,
        RecordKind,
        SyncRecord,
        SyncStatus,
    )

    QuickBooksConnection.objects.create(company=company, status=ConnectionStatus.CONNECTED)
    record = SyncRecord.objects.create(
        company=company,
        kind=RecordKind.CUSTOMER,
        local_id=customer.pk,
        label=customer.name,
        status=SyncStatus.SYNCED,
        synced_at=timezone.now(),
    )
    services.choose_language(link=customer_link.link, language="fr-ca")
    assert Customer.objects.get(pk=customer.pk).language == "fr-ca"
    assert sync.queue_changed_customers() == 0
    record.refresh_from_db()
    assert record.status == SyncStatus.SYNCED


def test_a_language_we_do_not_offer_is_refused_in_the_customers_words(customer, customer_link):
    with pytest.raises(ServiceError) as refused:
        services.choose_language(link=customer_link.link, language="de")
    assert str(refused.value) == "Choose English or French."
    with translation.override("fr-ca"), pytest.raises(ServiceError) as refused:
        services.choose_language(link=customer_link.link, language="xx")
    assert str(refused.value) == "Choisissez l\u2019anglais ou le français."
    customer.refresh_from_db()
    assert customer.language == ""


# --- A fresh link asked for with a short mobile number -------------------------------------------


def _expired(customer, document, contact=None):
    issued = issue(customer, document, contact=contact)
    PortalLink.objects.filter(pk=issued.link.pk).update(
        expires_at=timezone.now() - dt.timedelta(days=1)
    )
    issued.link.refresh_from_db()
    return issued


def test_a_seven_digit_mobile_number_on_file_gets_a_fresh_link_by_text(
    customer, estimate, settings
):
    settings.TWILIO_ENABLED = False
    sam = Contact.objects.create(
        company=customer.company, customer=customer, name="Sam", email="", phone="555-0188"
    )
    # Six digits are too few to tell anyone apart: nothing is sent.
    assert not services.fresh_link_request(
        link=_expired(customer, estimate).link, contact="55-0188"
    )
    assert services.fresh_link_request(link=_expired(customer, estimate).link, contact="555 0188")
    fresh = PortalLink.objects.get(channel="fresh")
    assert fresh.contact == sam and fresh.sent_to == "555-0188"
    assert Message.objects.filter(channel="sms", to="555-0188").exists()


# --- A removed contact ---------------------------------------------------------------------------


def test_a_contact_removed_elsewhere_leaves_this_companys_links_working(customer, estimate):
    ours = issue(customer, estimate)
    rival = CustomerFactory(company=CompanyFactory(name="Rival Heating"))
    # A row of the rival company naming one of our contacts: our links stay.
    activity.record(
        company=rival.company,
        verb="contact.removed",
        actor=Actor.system(),
        customer=rival,
        data={"name": "Alice Tremblay", "contact": ours.link.contact.public_id},
    )
    ours.link.refresh_from_db()
    assert ours.link.revoked_at is None


def test_a_removal_that_names_no_contact_revokes_no_link(customer, estimate):
    # A link from before contacts existed has no contact.
    old = issue(customer, estimate)
    PortalLink.objects.filter(pk=old.link.pk).update(contact=None)
    activity.record(
        company=customer.company,
        verb="contact.removed",
        actor=Actor.system(),
        customer=customer,
        data={"name": "Someone"},
    )
    old.link.refresh_from_db()
    assert old.link.revoked_at is None


# --- Delivering estimates and invoices -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["estimate", "invoice"])
def test_a_send_without_a_note_emails_no_note(
    kind, customer, job, django_capture_on_commit_callbacks
):
    actor = Actor.system()
    if kind == "estimate":
        document = EstimateFactory(customer=customer, sent=False)
        deliver = lambda: services.estimate_deliver(estimate=document, actor=actor)  # noqa: E731
    else:
        document = InvoiceFactory(customer=customer, job=job, sent=False)
        deliver = lambda: services.invoice_deliver(invoice=document, actor=actor)  # noqa: E731
    with django_capture_on_commit_callbacks(execute=True):
        deliver()
    [email] = [m for m in mail.outbox if document.display_number in m.subject]
    assert "XX" not in email.body
    assert _rows("portal_link.emailed").count() == 1
    assert not _rows("portal_link.emailed_with_note").exists()


def test_an_estimate_texted_and_emailed_on_send_carries_one_link(
    customer, settings, django_capture_on_commit_callbacks
):
    settings.TWILIO_ENABLED = False
    customer.preferred_channel = "both"
    customer.save(update_fields=["preferred_channel"])
    estimate = EstimateFactory(customer=customer, sent=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.estimate_deliver(estimate=estimate, actor=Actor.system())
    assert Message.objects.filter(channel="sms").exists()  # the automation's text
    assert len([m for m in mail.outbox if estimate.display_number in m.subject]) == 1
    assert PortalLink.objects.filter(estimate=estimate).count() == 1


def test_an_invoice_sent_twice_from_one_preview_goes_out_once(
    customer, job, django_capture_on_commit_callbacks
):
    actor = Actor.system()
    invoice = InvoiceFactory(customer=customer, job=job, sent=False)
    stamp = services.sent_stamp(invoice)
    with django_capture_on_commit_callbacks(execute=True):
        services.invoice_deliver(invoice=invoice, actor=actor, last_sent=stamp)
    with pytest.raises(services.AlreadySent), django_capture_on_commit_callbacks(execute=True):
        services.invoice_deliver(
            invoice=Invoice.objects.get(pk=invoice.pk), actor=actor, last_sent=stamp
        )
    assert len([m for m in mail.outbox if invoice.display_number in m.subject]) == 1


def test_an_invoice_goes_to_the_contacts_chosen(customer, job, django_capture_on_commit_callbacks):
    ben = Contact.objects.create(
        company=customer.company,
        customer=customer,
        name="Ben Tremblay",
        email="ben@example.com",
        role="spouse",
    )
    invoice = InvoiceFactory(customer=customer, job=job, sent=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.invoice_deliver(invoice=invoice, actor=Actor.system(), contacts=[ben])
    emails = [m for m in mail.outbox if invoice.display_number in m.subject]
    assert [m.to for m in emails] == [["ben@example.com"]]
    assert PortalLink.objects.filter(invoice=invoice, contact=ben).count() == 1


# --- The note's excerpt on the timeline ----------------------------------------------------------


def _excerpt_of(customer, note, capture) -> str:
    estimate = EstimateFactory(customer=customer, sent=False)
    with capture(execute=True):
        services.estimate_deliver(estimate=estimate, actor=Actor.system(), note=note)
    return _rows("portal_link.emailed_with_note").get().data["excerpt"]


@pytest.mark.parametrize(
    ("note", "excerpt"),
    [
        # A note of 120 characters is shown whole (its lines joined).
        ("a" * 59 + "\n\n" + "b" * 60, "a" * 59 + " " + "b" * 60),
        # One more character: cut after the last whole word, with an ellipsis.
        ("Call me " + "c" * 112 + " ok", "Call me" + "…"),
        ("word " * 23 + "abcd" + "efghijklmn", ("word " * 23).rstrip() + "…"),
        # The cut falls just after a space: the last whole word stays.
        ("w" * 100 + " " + "v" * 18 + " " + "tail words", "w" * 100 + " " + "v" * 18 + "…"),
    ],
)
def test_the_timeline_shows_the_start_of_a_long_note_cut_at_a_word(
    note, excerpt, customer, django_capture_on_commit_callbacks
):
    assert _excerpt_of(customer, note, django_capture_on_commit_callbacks) == excerpt
