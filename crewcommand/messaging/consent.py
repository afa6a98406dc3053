"""CASL consent and opt-outs: may this message go out?

Transactional messages (what the customer asked for) always may, except an SMS to a number that
replied STOP. Commercial messages need the customer's consent on that channel: express (until
withdrawn) or implied by a purchase (two years after the last paid invoice; billing records it
with ``record_purchase``), and never go to an address or number that opted out.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crewcommand.models import (
    Channel,
    Company,
    Consent,
    ConsentKind,
    Customer,
    Message,
    MessageKind,
    SmsOptOut,
)

IMPLIED_CONSENT_DAYS = 2 * 365


def number_opted_out(*, company: Company, phone: str) -> bool:
    return SmsOptOut.objects.filter(
        Q(company=company) | Q(company__isnull=True), phone=phone
    ).exists()


def opt_out_number(*, company: Company | None, phone: str, everywhere: bool = False) -> None:
    """Record a STOP from ``phone`` (for every company when it reached a shared sender)."""
    owner = None if everywhere else company
    SmsOptOut.objects.get_or_create(company=owner, phone=phone)
    customers = Customer.objects.filter(phone=phone, sms_opted_out_at__isnull=True)
    if owner is not None:
        customers = customers.filter(company=owner)
    customers.update(sms_opted_out_at=timezone.now())


def opt_in_number(*, company: Company | None, phone: str, everywhere: bool = False) -> None:
    """Record a START/UNSTOP/YES from ``phone``."""
    rows = SmsOptOut.objects.filter(phone=phone)
    customers = Customer.objects.filter(phone=phone)
    if not everywhere:
        rows = rows.filter(Q(company=company) | Q(company__isnull=True))
        customers = customers.filter(company=company)
    rows.delete()
    customers.update(sms_opted_out_at=None)


def consent_for(
    customer: Customer, channel: str, *, at: dt.datetime | None = None
) -> Consent | None:
    """The customer's valid consent on ``channel`` now (None when none, withdrawn or expired)."""
    at = at or timezone.now()
    consent = Consent.objects.filter(customer=customer, channel=channel).first()
    if consent is None or consent.withdrawn_at is not None:
        return None
    if consent.kind == ConsentKind.IMPLIED and consent.given_at < at - dt.timedelta(
        days=IMPLIED_CONSENT_DAYS
    ):
        return None
    return consent


def record_consent(
    *, customer: Customer, channel: str, kind: str, source: str, at: dt.datetime | None = None
) -> Consent:
    """Record consent. Express consent is never downgraded to implied."""
    at = at or timezone.now()
    existing = Consent.objects.filter(customer=customer, channel=channel).first()
    if existing is not None and kind == ConsentKind.IMPLIED:
        if existing.kind == ConsentKind.EXPRESS and existing.withdrawn_at is None:
            return existing
        if existing.withdrawn_at is not None:
            return existing  # the customer said no: a purchase does not undo it
    consent, _created = Consent.objects.update_or_create(
        customer=customer,
        channel=channel,
        defaults={
            "company_id": customer.company_id,
            "kind": kind,
            "source": source[:200],
            "given_at": at,
            "withdrawn_at": None,
        },
    )
    return consent


def record_purchase(*, customer: Customer, at: dt.datetime | None = None) -> None:
    """A paid invoice: implied consent on both channels for two years from ``at``."""
    for channel in Channel.values:
        record_consent(
            customer=customer,
            channel=channel,
            kind=ConsentKind.IMPLIED,
            source="purchase",
            at=at,
        )


def withdraw(*, customer: Customer, channel: str) -> None:
    now = timezone.now()
    Consent.objects.update_or_create(
        customer=customer,
        channel=channel,
        defaults={
            "company_id": customer.company_id,
            "kind": ConsentKind.EXPRESS,
            "given_at": now,
            "withdrawn_at": now,
            "source": "unsubscribed",
        },
    )
    if channel == Channel.EMAIL:
        Customer.objects.filter(pk=customer.pk).update(email_opted_out_at=now)


def blocked_reason(message: Message) -> str:
    """Why ``message`` may not be sent, or "" when it may."""
    if message.channel == Channel.SMS and number_opted_out(
        company=message.company, phone=message.to
    ):
        return _("The number replied STOP: it gets no more texts until it replies START.")
    if message.kind != MessageKind.COMMERCIAL:
        return ""
    customer = message.customer
    if customer is None:
        return _("A commercial message needs a customer who consented.")
    if message.channel == Channel.EMAIL and customer.email_opted_out_at is not None:
        return _("The customer unsubscribed from email.")
    if message.channel == Channel.SMS and customer.sms_opted_out_at is not None:
        return _("The customer opted out of texts.")
    if consent_for(customer, message.channel) is None:
        return _(
            "No consent for commercial messages on this channel (none given, withdrawn, or "
            "implied consent older than two years)."
        )
    return ""


def reachable(customer: Customer, channel: str, kind: str = MessageKind.TRANSACTIONAL) -> bool:
    """Whether a message of ``kind`` could reach ``customer`` on ``channel`` now: an address,
    no opt-out, and for a commercial message, consent (what ``blocked_reason`` will check)."""
    if channel == Channel.SMS:
        if not customer.phone or customer.sms_opted_out_at is not None:
            return False
        from crewcommand.messaging.channels import sms_address

        if number_opted_out(company=customer.company, phone=sms_address(customer.phone)):
            return False
    elif not customer.email or customer.email_opted_out_at is not None:
        return False
    return kind != MessageKind.COMMERCIAL or consent_for(customer, channel) is not None


def customer_channels(customer: Customer, kind: str = MessageKind.TRANSACTIONAL) -> list[str]:
    """The channels a message that can go either way takes to ``customer``: their preferred
    ones (``Customer.preferred_channel``) that can reach them; when none can, the other one if
    it can (a customer who prefers texts but has no mobile number still gets the email). Never
    a channel they opted out of, nor one without consent for a commercial message, unless none
    can reach them: then the preferred ones, for the outbox to record why each was not sent."""
    preferred = (
        [Channel.SMS, Channel.EMAIL]
        if customer.preferred_channel == "both"
        else [customer.preferred_channel]
    )
    usable = [c for c in (Channel.SMS, Channel.EMAIL) if reachable(customer, c, kind)]
    return [c for c in usable if c in preferred] or usable or preferred
