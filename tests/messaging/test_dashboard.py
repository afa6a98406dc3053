"""The message log, a message's page, and the customer page's history and "send a message"."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from crewcommand.messaging import queue
from crewcommand.models import Message, MessageStatus
from tests.factories import CompanyFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_the_log_filters_by_status_and_channel_and_shows_why_a_message_was_blocked(
    company, owner_client, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sent = queue(
            company=company,
            channel="email",
            to="a@example.com",
            subject="Invoice 1",
            body="x",
            customer=customer,
        )
        blocked = queue(
            company=company,
            channel="email",
            to="a@example.com",
            subject="Promo spring",
            body="x",
            customer=customer,
            kind="commercial",
        )
    other = CompanyFactory(slug="other")
    queue(company=other, channel="email", to="z@example.com", subject="Secret other", body="x")
    url = reverse("messages:message_list")
    body = owner_client.get(url).content.decode()
    assert "Invoice 1" in body and "Promo spring" in body and "Secret other" not in body
    body = owner_client.get(url, {"status": "blocked"}).content.decode()
    assert "Promo spring" in body and "Invoice 1" not in body
    body = owner_client.get(url, {"channel": "sms"}).content.decode()
    assert "Invoice 1" not in body
    assert owner_client.get(url, {"status": "nonsense", "channel": "<x>"}).status_code == 200
    blocked.refresh_from_db()
    detail = owner_client.get(blocked.get_absolute_url()).content.decode()
    assert blocked.blocked_reason and "consent" in detail
    assert "badge-blocked" in detail
    sent.refresh_from_db()
    assert sent.status == MessageStatus.SENT
    foreign = Message.objects.get(company=other)
    assert owner_client.get(foreign.get_absolute_url()).status_code == 404


def test_the_customer_page_sends_a_message_and_lists_it(
    owner_client, customer, django_capture_on_commit_callbacks
):
    url = reverse("dashboard:customer_message", args=[customer.public_id])
    response = owner_client.post(url, {"channel": "email", "subject": "", "body": ""})
    assert response.status_code == 200 and Message.objects.count() == 0
    assert "This field is required" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            url, {"channel": "email", "subject": "Tomorrow", "body": "We arrive at 9."}
        )
    assert response.status_code == 302
    [email] = mail.outbox
    assert email.to == [customer.email] and "We arrive at 9." in email.body
    page = owner_client.get(customer.get_absolute_url()).content.decode()
    assert "Tomorrow" in page and "badge-sent" in page


def test_sms_to_a_customer_without_a_number_says_so(owner_client, company):
    customer = CustomerFactory(company=company, phone="")
    url = reverse("dashboard:customer_message", args=[customer.public_id])
    response = owner_client.post(url, {"channel": "sms", "body": "Hi"})
    assert response.status_code == 200
    assert "mobile number" in response.content.decode()
    assert Message.objects.count() == 0


def test_a_technician_sees_history_but_cannot_send(company, customer):
    from django.test import Client

    from crewcommand.models import Role
    from tests.factories import MemberFactory

    tech_client = Client()
    tech_client.force_login(MemberFactory(company=company, role=Role.TECHNICIAN).user)
    page = tech_client.get(customer.get_absolute_url()).content.decode()
    assert "Send a message" not in page
    url = reverse("dashboard:customer_message", args=[customer.public_id])
    assert tech_client.post(url, {"channel": "email", "body": "x"}).status_code == 403
