"""The outbox: queue() writes a row in the caller's transaction, the task claims and sends it
once; consent, opt-outs and quiet hours decide; secrets are sealed at rest."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from crewcommand.messaging import outbox, queue
from crewcommand.messaging.consent import record_consent, record_purchase
from crewcommand.models import Message, MessageStatus, SmsOptOut
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_queue_writes_a_row_and_sends_it_after_commit(company, django_capture_on_commit_callbacks):
    customer = CustomerFactory(company=company, email="ana@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(
            company=company,
            channel="email",
            to="ana@example.com",
            subject="Hello",
            body="Plain",
            html="<p>Plain</p>",
            customer=customer,
            concerning=customer,
        )
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.attempts == 1
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["ana@example.com"]
    assert company.name in sent.from_email
    assert sent.alternatives[0][0] == "<p>Plain</p>"
    assert message.concerning == customer


def test_rolled_back_transaction_sends_nothing(company, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                queue(company=company, channel="email", to="a@example.com", body="x")
                raise RuntimeError
        except RuntimeError:
            pass
    assert Message.objects.count() == 0
    assert mail.outbox == []


def test_a_claimed_row_is_never_sent_again(company, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(company=company, channel="email", to="a@example.com", body="x")
    assert outbox.send(message.pk) == "skipped"
    assert len(mail.outbox) == 1


def test_same_key_returns_the_first_row(company, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = queue(company=company, channel="email", to="a@example.com", body="x", key="k1")
        second = queue(company=company, channel="email", to="a@example.com", body="x", key="k1")
    assert first.pk == second.pk
    assert len(mail.outbox) == 1


def test_secret_links_are_sealed_at_rest_and_whole_in_the_email(
    company, django_capture_on_commit_callbacks
):
    token = "A" * 43
    body = f"See https://app.example/p/{token}/ now"
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(company=company, channel="email", to="a@example.com", body=body)
    message.refresh_from_db()
    assert token not in message.body
    assert token not in message.sealed
    assert message.sealed
    assert token in mail.outbox[0].body


def test_commercial_without_consent_is_blocked_with_reason(
    company, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(company=company, email="b@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(
            company=company,
            channel="email",
            to="b@example.com",
            body="Promo",
            customer=customer,
            kind="commercial",
        )
        transactional = queue(
            company=company, channel="email", to="b@example.com", body="Invoice", customer=customer
        )
    message.refresh_from_db()
    transactional.refresh_from_db()
    assert message.status == MessageStatus.BLOCKED
    assert "consent" in message.blocked_reason
    assert transactional.status == MessageStatus.SENT
    assert len(mail.outbox) == 1


def test_commercial_email_with_consent_has_one_click_unsubscribe_and_casl_identification(
    company, client, django_capture_on_commit_callbacks
):
    company.address_line1 = "1 Main St"
    company.save()
    customer = CustomerFactory(company=company, email="c@example.com")
    record_consent(customer=customer, channel="email", kind="express", source="form")
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(
            company=company,
            channel="email",
            to="c@example.com",
            body="Promo",
            customer=customer,
            kind="commercial",
        )
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    sent = mail.outbox[0]
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = sent.extra_headers["List-Unsubscribe"].strip("<>")
    assert "1 Main St" in sent.body
    assert url in sent.body
    path = url.split("//", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    customer.refresh_from_db()
    assert customer.email_opted_out_at is None  # GET changes nothing
    assert client.post("/" + path).status_code == 200
    customer.refresh_from_db()
    assert customer.email_opted_out_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        again = queue(
            company=company,
            channel="email",
            to="c@example.com",
            body="Promo 2",
            customer=customer,
            kind="commercial",
        )
    again.refresh_from_db()
    assert again.status == MessageStatus.BLOCKED


def test_implied_consent_expires_two_years_after_purchase(company):
    from crewcommand.messaging.consent import consent_for

    customer = CustomerFactory(company=company)
    record_purchase(customer=customer, at=timezone.now() - dt.timedelta(days=700))
    assert consent_for(customer, "email") is not None
    record_purchase(customer=customer, at=timezone.now() - dt.timedelta(days=800))
    assert consent_for(customer, "email") is None


def test_sms_to_an_opted_out_number_is_blocked(company, django_capture_on_commit_callbacks):
    SmsOptOut.objects.create(company=company, phone="+16135550123")
    company.quiet_hours_start = company.quiet_hours_end = dt.time(0, 0)
    company.save()
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(company=company, channel="sms", to="+1 613 555 0123", body="Hi")
    message.refresh_from_db()
    assert message.status == MessageStatus.BLOCKED
    assert "STOP" in message.blocked_reason


def test_sms_due_in_quiet_hours_waits_until_they_end(company):
    from crewcommand.messaging.channels import after_quiet_hours

    company.timezone = "America/Toronto"
    late = dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    wait = after_quiet_hours(company, late)
    assert wait == dt.datetime(2026, 7, 2, 13, 0, tzinfo=dt.UTC)
    early = dt.datetime(2026, 7, 2, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    assert after_quiet_hours(company, early) == wait
    noon = dt.datetime(2026, 7, 2, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    assert after_quiet_hours(company, noon) == noon


def test_segments():
    from crewcommand.messaging import sms_segments

    assert sms_segments("a" * 160).segments == 1
    assert sms_segments("a" * 161).segments == 2
    assert sms_segments("€" * 80).segments == 1  # two septets each
    assert sms_segments("ê").encoding == "UCS-2"
    assert sms_segments("é" * 160).encoding == "GSM-7"
    assert sms_segments("😀" * 35).segments == 1
    assert sms_segments("😀" * 36).segments == 2
