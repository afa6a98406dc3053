"""Who made a link and what its timeline row says (mutation survivors of portal.services): a
link a team member makes records them as its maker, a system one records nobody; the
activity row of a revoked link belongs to the link's customer."""

from __future__ import annotations

import pytest

from crewcommand.lib.activity import Actor
from crewcommand.models import Activity
from portal import services
from portal.models import LinkChannel
from tests.factories import EstimateFactory

pytestmark = pytest.mark.django_db

PHONE = "+14165550123"


def test_a_link_made_by_a_member_records_who_made_it(customer, owner):
    user = owner.user
    issued = services.link_create(customer=customer, actor=Actor.member(user))
    issued.link.refresh_from_db()
    assert issued.link.created_by == user


def test_a_link_made_by_the_system_records_no_maker(customer):
    issued = services.link_create(customer=customer, actor=Actor.system())
    issued.link.refresh_from_db()
    assert issued.link.created_by is None


def test_revoking_a_link_logs_a_row_on_the_customers_timeline(customer, owner):
    issued = services.link_create(customer=customer, actor=Actor.member(owner.user))
    link = services.link_revoke(link=issued.link, actor=Actor.member(owner.user))
    assert link.revoked_at is not None
    row = Activity.objects.get(verb="portal_link.revoked")
    assert row.company_id == customer.company_id
    assert row.customer_id == customer.pk
    assert row.target == customer
    assert row.data == {"reference": link.reference}
    created = Activity.objects.get(verb="portal_link.created")
    assert created.customer_id == customer.pk


def test_inside_a_send_a_text_about_another_estimate_gets_its_own_link(customer, owner):
    """A Send shares its one link only with messages about the document being sent: a text
    about another estimate of the same customer, queued meanwhile, gets a link to that one."""
    sending, other = EstimateFactory(customer=customer), EstimateFactory(customer=customer)
    with services._send_scope(sending, Actor.member(owner.user)):
        sends = services.send_link(
            customer=customer, document=sending, channel=LinkChannel.SMS, sent_to=PHONE
        )
        another = services.send_link(
            customer=customer, document=other, channel=LinkChannel.SMS, sent_to=PHONE
        )
    assert sends.link.estimate == sending
    assert another.link.pk != sends.link.pk and another.link.estimate == other
    assert (another.link.channel, another.link.sent_to) == (LinkChannel.SMS, PHONE)
    # The Send's link, made by its text, is on record as texted there.
    assert (sends.link.channel, sends.link.sent_to) == (LinkChannel.SMS, PHONE)


def test_an_automations_text_outside_a_send_gets_a_link_on_record_as_texted(customer, estimate):
    issued = services.send_link(
        customer=customer, document=estimate, channel=LinkChannel.SMS, sent_to=PHONE
    )
    issued.link.refresh_from_db()
    assert issued.link.estimate == estimate and issued.link.created_by is None
    assert (issued.link.channel, issued.link.sent_to) == (LinkChannel.SMS, PHONE)
