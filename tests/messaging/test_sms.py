"""SMS through the real twilio SDK against the fake Twilio; signed status callbacks and inbound
STOP/START replies (signed with twilio's RequestValidator algorithm; forged ones get 403)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from crewcommand.messaging import queue
from crewcommand.models import Message, MessageStatus, SmsOptOut
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NUMBER = "+16135550123"
SENDER = "+15005550006"


@pytest.fixture
def twilio(settings, fake_twilio, company):
    settings.TWILIO_ACCOUNT_SID = fake_twilio.account_sid
    settings.TWILIO_AUTH_TOKEN = fake_twilio.auth_token
    settings.TWILIO_API_BASE = fake_twilio.url
    settings.TWILIO_ENABLED = True
    settings.TWILIO_FROM_NUMBER = SENDER
    company.quiet_hours_start = company.quiet_hours_end = dt.time(0, 0)  # no quiet hours
    company.save()
    return fake_twilio


def _post(settings, path, params, *, token=None, signature=None):
    url = settings.SITE_URL + path
    if signature is None:
        signature = RequestValidator(token or settings.TWILIO_AUTH_TOKEN).compute_signature(
            url, params
        )
    headers = {"X-Twilio-Signature": signature} if signature else {}
    return Client().post(path, params, headers=headers)


def _sms(company, capture, to=NUMBER, **kwargs):
    with capture(execute=True):
        message = queue(
            company=company, channel="sms", to=to, body="Your invoice is ready", **kwargs
        )
    message.refresh_from_db()
    return message


def test_an_sms_goes_out_through_twilio_and_the_signed_callback_marks_it_delivered(
    twilio, company, settings, django_capture_on_commit_callbacks
):
    message = _sms(company, django_capture_on_commit_callbacks)
    assert message.status == MessageStatus.SENT
    [sent] = twilio.sent_to(NUMBER)
    assert sent["body"] == "Your invoice is ready" and sent["from"] == SENDER
    assert message.provider_id == sent["sid"]
    params = {"MessageSid": sent["sid"], "MessageStatus": "delivered", "To": NUMBER}
    # Forged (wrong key), unsigned: 403 and nothing changes.
    assert _post(settings, "/webhooks/twilio/status/", params, token="x" * 32).status_code == 403
    assert _post(settings, "/webhooks/twilio/status/", params, signature="").status_code == 403
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert _post(settings, "/webhooks/twilio/status/", params).status_code == 204
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.delivered_at


def test_the_company_number_or_messaging_service_is_the_sender(
    twilio, company, django_capture_on_commit_callbacks
):
    company.sms_messaging_service_sid = "MG" + "0" * 32
    company.save()
    _sms(company, django_capture_on_commit_callbacks)
    [sent] = twilio.sent_to(NUMBER)
    assert sent["messaging_service_sid"] == company.sms_messaging_service_sid


@pytest.mark.parametrize(("to", "code"), [("+15005550001", "21211"), ("+15005550004", "21610")])
def test_permanent_twilio_errors_fail_at_once_and_show(
    twilio, company, to, code, django_capture_on_commit_callbacks
):
    message = _sms(company, django_capture_on_commit_callbacks, to=to)
    assert message.status == MessageStatus.FAILED
    assert message.error_code == code and message.attempts == 1
    assert code in message.last_error
    if code == "21610":
        assert SmsOptOut.objects.filter(phone=to).exists()


@pytest.mark.parametrize("word", ["STOP", " stop ", "Arret", "optout", "CANCEL"])
def test_stop_opts_the_number_out_and_start_back_in(
    twilio, company, settings, word, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(company=company, phone=NUMBER)
    inbound = {"From": NUMBER, "To": SENDER, "Body": word}
    assert _post(settings, "/webhooks/twilio/inbound/", inbound, signature="").status_code == 403
    assert not SmsOptOut.objects.exists()
    assert _post(settings, "/webhooks/twilio/inbound/", inbound).status_code == 200
    customer.refresh_from_db()
    assert customer.sms_opted_out_at is not None
    message = _sms(company, django_capture_on_commit_callbacks)
    assert message.status == MessageStatus.BLOCKED and "STOP" in message.blocked_reason
    assert twilio.sent_to(NUMBER) == []
    start = {"From": NUMBER, "To": SENDER, "Body": "start"}
    assert _post(settings, "/webhooks/twilio/inbound/", start).status_code == 200
    assert not SmsOptOut.objects.exists()
    assert _sms(company, django_capture_on_commit_callbacks).status == MessageStatus.SENT


def test_an_sms_due_in_quiet_hours_waits(twilio, company, django_capture_on_commit_callbacks):
    company.quiet_hours_start = dt.time(0, 0)
    company.quiet_hours_end = dt.time(23, 59)
    company.save()
    message = _sms(company, django_capture_on_commit_callbacks)
    assert message.status == MessageStatus.QUEUED
    assert message.attempts == 0 and message.send_after > message.created_at
    assert twilio.sent_to(NUMBER) == []
    assert Message.objects.count() == 1
