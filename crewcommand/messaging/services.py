"""Writes: a message typed by someone at the company, to one customer."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from crewcommand.errors import ServiceError
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.messaging import consent
from crewcommand.messaging.outbox import queue
from crewcommand.models import Channel, Customer, Message


@transaction.atomic
def message_send(
    *, customer: Customer, channel: str, subject: str, body: str, actor: Actor
) -> Message:
    """Queue a message typed for ``customer`` (a reply about their work: transactional)."""
    company = customer.company
    body = body.strip()
    if not body:
        raise ServiceError(_("Write a message."))
    if channel == Channel.EMAIL:
        if not customer.email:
            raise ServiceError(_("Add the customer's email address first."))
        to = customer.email
        subject = subject.strip() or _("A message from %(company)s") % {"company": company.name}
    elif channel == Channel.SMS:
        if not customer.phone:
            raise ServiceError(_("Add the customer's mobile number first."))
        to = customer.phone
        if consent.number_opted_out(company=company, phone=to):
            raise ServiceError(
                _("This number replied STOP: it gets no texts until it replies START.")
            )
        subject = ""
    else:
        raise ServiceError(_("Choose email or text."))
    message = queue(
        company=company,
        channel=channel,
        to=to,
        subject=subject,
        body=body,
        customer=customer,
        template="manual",
    )
    activity.record(
        company=company,
        verb="message.queued",
        actor=actor,
        target=customer,
        customer=customer,
        data={"channel": channel},
    )
    return message
