"""Send from the dashboard: the document is marked sent and its customer gets a portal link."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import TestCase
from django.urls import reverse

from documents.models import EstimateStatus
from portal.models import PortalLink
from tests.factories import LineItemFactory
from tests.portal.helpers import send_data

pytestmark = pytest.mark.django_db


def test_sending_an_estimate_emails_a_portal_link_that_opens_it(
    owner_client, client, draft_estimate, actor
):
    LineItemFactory(doc=draft_estimate, actor=actor)
    with TestCase.captureOnCommitCallbacks(execute=True):
        owner_client.post(
            reverse("documents:estimate_action", args=[draft_estimate.public_id, "send"]),
            send_data(draft_estimate),
        )
    draft_estimate.refresh_from_db()
    link = PortalLink.objects.get(channel="email")  # (the SMS companion has its own)
    assert draft_estimate.status == EstimateStatus.SENT
    assert link.estimate_id == draft_estimate.pk and link.sent_to == draft_estimate.customer.email
    (message,) = mail.outbox
    assert message.to == [draft_estimate.customer.email]
    path = re.search(r"https?://[^/\s]+(/p/[^\s]+/)", message.body).group(1)
    page = client.get(path, follow=True)  # a one-document link lands on the document
    assert page.status_code == 200 and draft_estimate.display_number in page.content.decode()


def test_sending_to_a_customer_without_email_says_so(owner_client, draft_estimate, actor, customer):
    customer.email = ""
    customer.save()
    LineItemFactory(doc=draft_estimate, actor=actor)
    response = owner_client.post(
        reverse("documents:estimate_action", args=[draft_estimate.public_id, "send"]),
        send_data(draft_estimate),
        follow=True,
    )
    assert "has no email address" in response.content.decode()
    assert PortalLink.objects.get(channel="email").sent_to == ""
    assert not mail.outbox


def test_detail_pages_load_the_links_and_payments_panels(
    owner_client, draft_estimate, draft_invoice
):
    body = owner_client.get(draft_invoice.get_absolute_url()).content.decode()
    assert (
        reverse("portal_dashboard:links_panel", args=["invoice", draft_invoice.public_id]) in body
    )
    assert reverse("billing_dashboard:invoice_payments", args=[draft_invoice.public_id]) in body
    body = owner_client.get(draft_estimate.get_absolute_url()).content.decode()
    assert (
        reverse("portal_dashboard:links_panel", args=["estimate", draft_estimate.public_id]) in body
    )
