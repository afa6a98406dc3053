"""Links as the contractor and the customer see them (mutation survivors of portal.services):
extending never shortens a link and logs the date it now works until; regenerating keeps the
link's contact and its extension; a fresh link honours the contact's consents; a Send from a
stale preview is caught even a microsecond late."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor, describe
from crewcommand.messaging import outbox
from crewcommand.models import Activity, Contact, Message
from documents.models import Estimate, Invoice, InvoiceStatus
from portal import services
from portal.models import LinkChannel, PortalLink
from portal.tokens import token_hash
from tests.factories import PaymentFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def _link(pk: int) -> PortalLink:
    return PortalLink.objects.select_related("company", "estimate", "invoice").get(pk=pk)


def _sentence(verb: str) -> str:
    return describe(Activity.objects.filter(verb=verb).latest("id"))


def _paid(invoice: Invoice, *, days_ago: float) -> Invoice:
    PaymentFactory(invoice=invoice, amount=invoice.total)
    Invoice.objects.filter(pk=invoice.pk).update(paid_at=timezone.now() - days_ago * DAY)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    return invoice


@pytest.fixture
def frozen(monkeypatch):
    """The clock stopped at one moment, so a date can be exactly "now"."""
    moment = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: moment)
    return moment


# --- Extending ----------------------------------------------------------------------------------


def test_extending_a_revoked_link_says_to_make_a_new_one(invoice):
    issued = issue(invoice.customer, invoice)
    services.link_revoke(link=issued.link, actor=Actor.system())
    with pytest.raises(ServiceError) as refused:
        services.link_extend(link=issued.link, until=timezone.now() + DAY, actor=Actor.system())
    assert str(refused.value) == ("This link was revoked and can't be extended. Create a new link.")


def test_a_link_cannot_be_extended_to_this_very_moment(invoice, frozen):
    issued = issue(invoice.customer, invoice)
    with pytest.raises(ServiceError) as refused:
        services.link_extend(link=issued.link, until=frozen, actor=Actor.system())
    assert str(refused.value) == "Choose a date after today."
    assert _link(issued.link.pk).keep_until is None


def test_a_link_can_be_extended_by_exactly_ten_years_but_not_a_moment_more(invoice, frozen):
    issued = issue(invoice.customer, invoice)
    limit = frozen + dt.timedelta(days=services.EXTEND_MAX_DAYS)
    with pytest.raises(ServiceError) as refused:
        services.link_extend(
            link=issued.link, until=limit + dt.timedelta(seconds=1), actor=Actor.system()
        )
    assert str(refused.value) == "Choose a date within the next ten years."
    services.link_extend(link=issued.link, until=limit, actor=Actor.system())
    link = _link(issued.link.pk)
    assert link.keep_until == link.expires_at == limit


def test_a_shorter_extension_never_shortens_the_link(invoice):
    issued = issue(invoice.customer, invoice)  # its own lifetime: 60 days
    far, near = timezone.now() + 300 * DAY, timezone.now() + 100 * DAY
    services.link_extend(link=issued.link, until=far, actor=Actor.system())
    services.link_extend(link=issued.link, until=near, actor=Actor.system())
    link = _link(issued.link.pk)
    assert link.keep_until == far and link.expires_at == far
    assert link.is_usable(timezone.now() + 200 * DAY)


def test_the_timeline_says_until_which_day_the_link_now_works(owner, invoice):
    issued = issue(invoice.customer, invoice)  # expires in 60 days
    # Late evening in Toronto: already the next day in UTC.
    day = timezone.localdate() + 200 * DAY
    until = timezone.make_aware(dt.datetime.combine(day, dt.time(23, 30)))
    actor = Actor.member(owner.user)
    services.link_extend(link=issued.link, until=until, actor=actor)
    assert _sentence("portal_link.extended") == (
        f"{actor.label} extended portal link {issued.link.reference} "
        f"until {day.day} {day:%b} {day.year}"
    )


def test_the_timeline_shows_a_dash_when_the_extended_link_still_never_expires(estimate):
    issued = issue(estimate.customer, estimate, expires_at=None)  # open estimate, no lifetime
    services.link_extend(link=issued.link, until=timezone.now() + 30 * DAY, actor=Actor.system())
    assert _link(issued.link.pk).planned_expiry is None
    assert _sentence("portal_link.extended") == (
        f"CrewCommand extended portal link {issued.link.reference} until -"
    )


@pytest.mark.parametrize("kind", ["estimate", "invoice"])
def test_extending_reads_the_link_with_its_company_customer_and_document_at_once(
    kind, estimate, invoice
):
    """Extending reads the link's company, customer and document (its planned expiry and the
    timeline row need them): with the link, in one query, not one query each."""
    document: Estimate | Invoice = estimate if kind == "estimate" else invoice
    issued = issue(document.customer, document)
    tables = ("crewcommand_company", "crewcommand_customer", "documents_estimate")
    tables += ("documents_invoice",)
    with CaptureQueriesContext(connection) as queries:
        services.link_extend(
            link=issued.link, until=timezone.now() + 100 * DAY, actor=Actor.system()
        )
    lone = [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT")
        and any(re.search(rf'FROM "{table}"', q["sql"]) for table in tables)
    ]
    assert lone == []


# --- Regenerating -------------------------------------------------------------------------------


def test_regenerating_keeps_the_link_with_its_contact(customer, ben, estimate, owner):
    old = issue(customer, estimate, contact=ben, sent_to="ben@example.com")
    new = services.link_regenerate(link=old.link, actor=Actor.member(owner.user))
    assert new.link.contact == ben and new.link.sent_to == "ben@example.com"


def test_regenerating_a_removed_contacts_link_gives_it_to_the_primary_contact(
    customer, ben, estimate, owner
):
    old = issue(customer, estimate, contact=ben)
    ben.removed_at = timezone.now()
    ben.save()
    new = services.link_regenerate(link=old.link, actor=Actor.member(owner.user))
    assert new.link.contact == services.primary_contact(customer)
    assert new.link.contact != ben


def test_regenerating_an_extended_closed_documents_link_keeps_the_extension(invoice, owner):
    invoice.company.portal_link_days = 0  # links have no lifetime of their own
    invoice.company.save()
    issued = issue(invoice.customer, invoice)
    _paid(invoice, days_ago=100)  # closed 100 days ago: past the 90 days
    services.link_extend(link=issued.link, until=timezone.now() + 300 * DAY, actor=Actor.system())
    new = services.link_regenerate(link=issued.link, actor=Actor.member(owner.user))
    fresh = _link(new.link.pk)
    assert fresh.is_usable(timezone.now() + 200 * DAY)


def test_the_timeline_names_the_link_that_replaced_the_old_one(estimate):
    old = issue(estimate.customer, estimate)
    new = services.link_regenerate(link=old.link, actor=Actor.system())
    assert _sentence("portal_link.regenerated") == (
        f"CrewCommand replaced portal link {old.link.reference} with {new.link.reference}"
    )


# --- Fresh links from an expired one -----------------------------------------------------------


def _expired(customer, estimate, contact=None):
    issued = issue(customer, estimate, contact=contact)
    PortalLink.objects.filter(pk=issued.link.pk).update(expires_at=timezone.now() - DAY)
    issued.link.refresh_from_db()
    return issued


def test_a_contact_who_refused_texts_gets_the_fresh_link_by_email(
    customer, ben, estimate, settings
):
    settings.TWILIO_ENABLED = False
    Contact.objects.filter(pk=ben.pk).update(sms_consent=False)
    expired = _expired(customer, estimate)
    assert services.fresh_link_request(link=expired.link, contact="416-555-0188")
    fresh = PortalLink.objects.get(channel=LinkChannel.FRESH)
    assert fresh.contact == ben and fresh.sent_to == "ben@example.com"
    assert Message.objects.filter(template="portal_link", channel="email", to="ben@example.com")
    assert not Message.objects.filter(channel="sms", to="+14165550188").exists()


def test_a_contact_who_refused_texts_and_emails_gets_no_fresh_link(
    customer, ben, estimate, settings
):
    settings.TWILIO_ENABLED = False
    Contact.objects.filter(pk=ben.pk).update(sms_consent=False, email_consent=False)
    expired = _expired(customer, estimate)
    assert not services.fresh_link_request(link=expired.link, contact="416-555-0188")
    assert not PortalLink.objects.filter(channel=LinkChannel.FRESH).exists()
    assert not Message.objects.filter(template="portal_link").exists()


def test_a_contact_who_refused_emails_still_gets_the_fresh_link_by_text(
    customer, ben, estimate, settings
):
    settings.TWILIO_ENABLED = False
    Contact.objects.filter(pk=ben.pk).update(email_consent=False)
    expired = _expired(customer, estimate)
    before = PortalLink.objects.get(pk=expired.link.pk).updated_at
    assert services.fresh_link_request(link=expired.link, contact="416-555-0188")
    fresh = PortalLink.objects.get(channel=LinkChannel.FRESH)
    assert fresh.contact == ben and fresh.sent_to == "+14165550188"
    # The text carries the fresh link itself, working.
    text = Message.objects.get(channel="sms", to="+14165550188")
    url = re.search(r"/p/([A-Za-z0-9_-]{43})/", outbox.full_text(text)["body"])
    assert url and token_hash(url.group(1)) == fresh.token_hash
    # The expired link now points at its replacement, and says when that happened.
    old = PortalLink.objects.get(pk=expired.link.pk)
    assert old.replaced_by == fresh and old.updated_at > before
    assert _sentence("portal_link.reissued") == (
        f"Ben Tremblay asked for a fresh link; {fresh.reference} was sent to the contact on file"
    )


# --- Sending from a stale preview ---------------------------------------------------------------


def test_a_send_a_microsecond_after_the_preview_is_still_caught(estimate, owner):
    seen = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)
    Estimate.objects.filter(pk=estimate.pk).update(sent_at=seen)
    estimate.refresh_from_db()
    stamp = services.sent_stamp(estimate)
    Estimate.objects.filter(pk=estimate.pk).update(sent_at=seen + dt.timedelta(microseconds=1))
    with pytest.raises(services.AlreadySent):
        services.estimate_deliver(
            estimate=estimate, actor=Actor.member(owner.user), last_sent=stamp
        )
    assert not Message.objects.filter(template="portal_link").exists()
