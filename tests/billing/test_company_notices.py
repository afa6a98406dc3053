"""The company's own notice of a payment goes where every company notice goes
(``crewcommand.notifications.company_recipients``)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from billing import services
from billing.models import PaymentMethod
from crewcommand.lib.activity import Actor
from crewcommand.models import Role
from tests.core.test_company_recipients import _owners_and_staff

pytestmark = pytest.mark.django_db


def test_the_company_payment_notice_goes_to_every_owner(
    invoice, django_capture_on_commit_callbacks
):
    """It used to go to the first owner only, while the portal's notices went to all."""
    company = invoice.company
    company.email = ""
    company.save()
    _owners_and_staff(company)
    expected = sorted(m.user.email for m in company.members.filter(role=Role.OWNER) if m.user.email)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_record(
            actor=Actor.system(),
            invoice=invoice,
            amount=Decimal("100.00"),
            method=PaymentMethod.CASH,
            received_on=timezone.localdate(),
        )
    to_company = sorted(m.to[0] for m in mail.outbox if m.to != [invoice.customer.email])
    assert to_company == expected and len(expected) >= 2


def test_a_failed_send_is_retried_from_the_outbox_and_sends_once(invoice, settings):
    """The receipt and the company notice are claimed on the payment and put in the outbox in
    the payment's transaction; a mail server that refuses leaves the rows queued for a retry
    (with the error shown), and the retry sends each once."""
    from billing import notifications
    from billing.models import Payment
    from crewcommand.messaging import outbox
    from crewcommand.models import Message, MessageStatus

    payment = services.payment_record(
        actor=Actor.system(),
        invoice=invoice,
        amount=Decimal("100.00"),
        method=PaymentMethod.CASH,
        received_on=timezone.localdate(),
    )  # its outbox tasks wait for a commit that never comes in this test
    payment = Payment.objects.get(pk=payment.pk)
    assert payment.receipt_sent_at is not None and payment.company_notified_at is not None
    rows = list(Message.objects.filter(template__in=["receipt", "receipt_company"]))
    assert len(rows) == 2
    notifications.deliver_receipt(payment_id=payment.pk)  # claimed: nothing more queued
    assert Message.objects.filter(template__in=["receipt", "receipt_company"]).count() == 2

    locmem = settings.MAILERS
    refused = {"host": "127.0.0.1", "port": 9, "use_tls": False, "timeout": 2}  # nothing listens
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": refused}
    }
    for row in rows:
        assert outbox.send(row.pk) == MessageStatus.QUEUED
        row.refresh_from_db()
        assert row.last_error and row.next_retry_at is not None

    settings.MAILERS = locmem
    mail.outbox.clear()
    Message.objects.filter(pk__in=[r.pk for r in rows]).update(send_after=timezone.now())
    for row in rows:
        assert outbox.send(row.pk) == MessageStatus.SENT
        assert outbox.send(row.pk) == "skipped"
    templates = sorted(
        "customer" if m.to == [invoice.customer.email] else "company" for m in mail.outbox
    )
    assert templates == ["company", "customer"]
