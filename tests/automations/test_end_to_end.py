"""Sending an invoice from the dashboard: the default "Invoice sent (SMS)" automation queues an
SMS in the outbox in the send's transaction, the worker sends it through the real twilio SDK to
the fake Twilio, and its links work. The send's own email still goes once (no double email)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from crewcommand.models import Message, MessageStatus
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def test_sending_an_invoice_texts_the_customer_through_the_outbox(
    settings, fake_twilio, owner_client, company, customer, job, django_capture_on_commit_callbacks
):
    settings.TWILIO_ACCOUNT_SID = fake_twilio.account_sid
    settings.TWILIO_AUTH_TOKEN = fake_twilio.auth_token
    settings.TWILIO_ENABLED = True
    settings.TWILIO_API_BASE = fake_twilio.url
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    company.quiet_hours_start = company.quiet_hours_end  # no quiet hours for this test
    company.save()
    invoice = InvoiceFactory(customer=customer, job=job, sent=False)
    url = reverse("documents:invoice_action", args=[invoice.public_id, "send"])
    preview = owner_client.get(url)
    stamp = re.search(r'name="last_sent" value="([^"]*)"', preview.content.decode()).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, {"last_sent": stamp, "note": ""})
    assert response.status_code in (200, 302)

    sms = Message.objects.get(channel="sms")
    assert sms.status == MessageStatus.SENT
    [sent] = fake_twilio.sent_to("+14165550199")
    assert invoice.display_number in sent["body"]
    assert "$1,356.00" in sent["body"]
    # The readable copy at rest has no raw token; what Twilio got has a working pay link.
    link = re.search(r"https?://\S+", sent["body"]).group(0)
    assert link not in sms.body
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = Client().get("/" + path)
    assert page.status_code in (200, 302)
    # The document's own email went once, as before automations.
    assert len([m for m in mail.outbox if invoice.display_number in m.subject]) == 1
