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


def test_a_failed_send_gives_its_claim_back_so_the_retry_sends_once(invoice, settings):
    """The receipt and the company notice are each claimed before sending; a mail server that
    refuses must leave them unclaimed (the task retries), and the retry sends each once."""
    from billing import notifications
    from billing.models import Payment

    payment = services.payment_record(
        actor=Actor.system(),
        invoice=invoice,
        amount=Decimal("100.00"),
        method=PaymentMethod.CASH,
        received_on=timezone.localdate(),
    )  # its receipt task waits for a commit that never comes in this test
    locmem = settings.MAILERS
    refused = {"host": "127.0.0.1", "port": 9, "use_tls": False, "timeout": 2}  # nothing listens
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": refused}
    }
    with pytest.raises(OSError):
        notifications.deliver_receipt(payment_id=payment.pk)
    payment = Payment.objects.get(pk=payment.pk)
    assert payment.receipt_sent_at is None and payment.company_notified_at is None

    settings.MAILERS = locmem
    mail.outbox.clear()
    notifications.deliver_receipt(payment_id=payment.pk)
    notifications.deliver_receipt(payment_id=payment.pk)
    templates = sorted(
        "customer" if m.to == [invoice.customer.email] else "company" for m in mail.outbox
    )
    assert templates == ["company", "customer"]
