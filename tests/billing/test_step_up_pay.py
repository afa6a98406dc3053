"""Paying an invoice behind a one-time code (issue 18, point 2): the Pay button goes to the pay
page, which asks for the code sent to the link's contact; no code, a wrong one, a used one: a
clear message and no payment attempt; the right one starts Checkout and the payment records
that the code was verified and by which channel."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from billing.models import Payment
from crewcommand.lib.activity import Actor
from crewcommand.messaging.outbox import full_text
from crewcommand.models import Message
from portal.services import link_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _step_up(company):
    cache.clear()
    company.step_up_required = True
    company.save()
    yield
    cache.clear()


def test_paying_needs_the_code_and_the_payment_records_it(invoice, connected, stripe_on):
    issued = link_create(customer=invoice.customer, actor=Actor.system(), document=invoice)
    client = Client()
    page = client.get(reverse("portal:invoice", args=[issued.token, invoice.public_id]))
    body = page.content.decode()
    pay_url = reverse("billing_portal:pay_invoice", args=[issued.token, invoice.public_id])
    # The Pay button is a GET to the pay page, where the code is asked for.
    assert re.search(rf'method="get" action="{re.escape(pay_url)}"', body)
    pay_page = client.get(pay_url).content.decode()
    assert "Send me a code" in pay_page and "ll email it to" in pay_page

    response = client.post(pay_url, {"choice": "full"})
    assert "Type the 6-digit code we sent you." in response.content.decode()
    assert not Payment.objects.exists()

    sent = client.post(
        reverse("portal:code", args=[issued.token]), {"purpose": "pay", "next": pay_url}
    )
    assert sent.status_code == 302 and sent["Location"].startswith(pay_url)
    message = Message.objects.get(template="portal_code")
    assert message.channel == "email" and message.to == invoice.customer.email
    code = re.search(r"\b(\d{6})\b", full_text(message)["body"]).group(1)
    assert code not in message.body + message.subject

    wrong = f"{(int(code) + 7) % 10**6:06d}"
    response = client.post(pay_url, {"choice": "full", "code": wrong})
    assert "That code is not right." in response.content.decode()
    assert not Payment.objects.exists()

    response = client.post(pay_url, {"choice": "full", "code": code})
    assert response.status_code == 303
    payment = Payment.objects.get()
    assert payment.step_up_channel == "email" and payment.step_up_verified_at is not None

    # The same code again: spent.
    response = client.post(pay_url, {"choice": "full", "code": code, "pay_again": "on"})
    assert "Ask for a code first" in response.content.decode()
    assert Payment.objects.count() == 1
