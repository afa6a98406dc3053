"""Links: made with a random token stored only as a hash, named by a short reference,
expiring by the company's default, revocable and regenerable, sent by email sealed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.models import Activity
from portal import services
from portal.models import LinkChannel, PortalLink
from portal.tokens import token_hash
from tests.factories import CustomerFactory, EstimateFactory, InvoiceFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db


def test_a_link_stores_only_the_hash_of_its_token(estimate):
    issued = issue(estimate.customer, estimate)
    link = PortalLink.objects.get(pk=issued.link.pk)
    assert len(issued.token) >= 43  # 256 bits, URL-safe
    assert link.token_hash == token_hash(issued.token) != issued.token
    assert issued.token not in repr(issued)
    assert re.fullmatch(r"L-[2-9A-HJ-NP-Z]{4}", link.reference)
    assert issued.url.endswith(f"/p/{issued.token}/")


def test_links_expire_after_the_company_default(customer):
    customer.company.portal_link_days = 10
    customer.company.save()
    link = issue(customer).link
    assert abs(link.expires_at - (timezone.now() + dt.timedelta(days=10))) < dt.timedelta(minutes=1)
    customer.company.portal_link_days = 0
    customer.company.save()
    assert issue(customer).link.expires_at is None


def test_several_links_for_one_document_are_independent(estimate):
    first, second = issue(estimate.customer, estimate), issue(estimate.customer, estimate)
    services.link_revoke(link=first.link, actor=Actor.system())
    first.link.refresh_from_db()
    second.link.refresh_from_db()
    assert first.link.status == "revoked" and second.link.status == "active"


def test_regenerate_revokes_the_old_link_and_keeps_the_scope(estimate, owner):
    old = issue(estimate.customer, estimate, sent_to="Alice's partner")
    new = services.link_regenerate(link=old.link, actor=Actor.member(owner.user))
    old.link.refresh_from_db()
    assert old.link.revoked_at is not None and old.link.replaced_by == new.link
    assert new.link.estimate == estimate and new.link.sent_to == "Alice's partner"
    assert new.token != old.token
    verbs = set(Activity.objects.values_list("verb", flat=True))
    assert {"portal_link.created", "portal_link.revoked", "portal_link.regenerated"} <= verbs


def test_a_link_cannot_point_at_another_customers_document(customer, company):
    other = CustomerFactory(company=company)
    estimate = EstimateFactory(customer=other)
    with pytest.raises(ServiceError):
        issue(customer, estimate)


def test_a_draft_document_cannot_be_linked(customer):
    draft = EstimateFactory(customer=customer, sent=False)
    with pytest.raises(ServiceError):
        issue(customer, draft)
    with pytest.raises(ServiceError):
        issue(customer, InvoiceFactory(customer=customer, sent=False))


def test_share_document_emails_the_link_after_commit(estimate, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        link = services.share_document(document=estimate, actor=Actor.system())
    assert len(callbacks) == 1
    assert link.channel == LinkChannel.EMAIL and link.sent_to == estimate.customer.email
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [estimate.customer.email]
    assert estimate.display_number in message.subject
    url = re.search(r"https?://\S+/p/[A-Za-z0-9_-]+/", message.body).group(0)
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert PortalLink.objects.get(token_hash=token_hash(token)) == link
    html = message.alternatives[0][0]
    assert url in html


def test_share_document_keeps_the_link_sealed_in_the_outbox(estimate):
    """The link email is an outbox row written with the link; its readable copy has the link
    redacted, the full text is sealed, and the task carries the row's id only."""
    import re as _re

    from crewcommand.messaging import outbox
    from crewcommand.models import Message

    link = services.share_document(document=estimate, actor=Actor.system())
    message = Message.objects.get(template="portal_link")
    assert message.to == link.sent_to and message.concerning == estimate
    readable = message.subject + message.body + message.html
    assert "/p/[redacted]" in message.body
    url = _re.search(r"/p/([A-Za-z0-9_-]{43})/", outbox.full_text(message)["body"])
    assert url and token_hash(url.group(1)) == link.token_hash
    assert url.group(1) not in readable and url.group(1) not in message.sealed


def test_a_revoked_link_is_not_emailed(estimate, django_capture_on_commit_callbacks):
    from crewcommand.lib.sealed import seal
    from portal import notifications

    link = services.share_document(document=estimate, actor=Actor.system())
    services.link_revoke(link=link, actor=Actor.system())
    notifications.deliver_link_email(link_id=link.pk, sealed_url=seal("https://x/p/t/"))
    assert mail.outbox == []


def test_a_tampered_sealed_url_is_not_emailed(estimate):
    from crewcommand.lib.sealed import seal
    from crewcommand.models import Message
    from portal import notifications

    link = services.share_document(document=estimate, actor=Actor.system())
    queued = Message.objects.count()  # the share's own email
    notifications.deliver_link_email(
        link_id=link.pk, sealed_url=seal("https://x/p/t/")[:-4] + "AAAA"
    )
    notifications.deliver_link_email(link_id=link.pk, sealed_url="tampered")
    assert Message.objects.count() == queued
    # The same usable link with an intact seal is emailed: the refusal above was the seal's.
    notifications.deliver_link_email(link_id=link.pk, sealed_url=seal("https://x/p/t/"))
    assert Message.objects.count() == queued + 1


def test_share_document_without_email_makes_the_link_but_sends_nothing(company):
    customer = CustomerFactory(company=company, email="")
    estimate = EstimateFactory(customer=customer)
    link = services.share_document(document=estimate, actor=Actor.system())
    assert link.sent_to == "" and mail.outbox == []
    with pytest.raises(ServiceError):
        services.share_document(document=estimate, actor=Actor.system(), channel="sms")


def _expire(link: PortalLink) -> None:
    PortalLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    link.refresh_from_db()


def test_a_fresh_link_goes_to_the_contact_on_file_only_when_the_contact_matches(
    estimate, django_capture_on_commit_callbacks
):
    issued = issue(estimate.customer, estimate)
    _expire(issued.link)
    customer = estimate.customer
    assert not services.fresh_link_request(link=issued.link, contact="someone@else.example")
    assert not services.fresh_link_request(link=issued.link, contact="416 555 0000")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.fresh_link_request(link=issued.link, contact=customer.email.upper())
    assert [m.to for m in mail.outbox] == [[customer.email]]
    fresh = PortalLink.objects.get(channel=LinkChannel.FRESH)
    assert fresh.estimate == estimate and fresh.is_usable()
    issued.link.refresh_from_db()
    assert issued.link.replaced_by == fresh
    # By phone too (digits only, any formatting), still sent to the email on file.
    assert services.fresh_link_request(link=issued.link, contact="(416) 555-0199")


def test_no_fresh_link_for_revoked_active_or_unknown_links(estimate):
    customer = estimate.customer
    active = issue(customer, estimate)
    assert not services.fresh_link_request(link=active.link, contact=customer.email)
    revoked = issue(customer, estimate)
    _expire(revoked.link)
    services.link_revoke(link=revoked.link, actor=Actor.system())
    revoked.link.refresh_from_db()
    assert not services.fresh_link_request(link=revoked.link, contact=customer.email)
    assert not services.fresh_link_request(link=None, contact=customer.email)
    assert not PortalLink.objects.filter(channel=LinkChannel.FRESH).exists()
