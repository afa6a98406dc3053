"""Send from the dashboard: the document is marked sent and its customer gets a portal link."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import TestCase
from django.urls import reverse

from documents.models import EstimateStatus
from portal.models import PortalLink
from tests.documents.conftest import add_line

pytestmark = pytest.mark.django_db


def test_sending_an_estimate_emails_a_portal_link_that_opens_it(
    owner_client, client, estimate, actor
):
    add_line(estimate, actor)
    with TestCase.captureOnCommitCallbacks(execute=True):
        owner_client.post(reverse("documents:estimate_action", args=[estimate.public_id, "send"]))
    estimate.refresh_from_db()
    link = PortalLink.objects.get()
    assert estimate.status == EstimateStatus.SENT
    assert link.estimate_id == estimate.pk and link.sent_to == estimate.customer.email
    (message,) = mail.outbox
    assert message.to == [estimate.customer.email]
    path = re.search(r"https?://[^/\s]+(/p/[^\s]+/)", message.body).group(1)
    page = client.get(path, follow=True)  # a one-document link lands on the document
    assert page.status_code == 200 and estimate.display_number in page.content.decode()


def test_sending_to_a_customer_without_email_says_so(owner_client, estimate, actor, customer):
    customer.email = ""
    customer.save()
    add_line(estimate, actor)
    response = owner_client.post(
        reverse("documents:estimate_action", args=[estimate.public_id, "send"]), follow=True
    )
    assert "has no email address" in response.content.decode()
    assert PortalLink.objects.get().sent_to == ""
    assert not mail.outbox


def test_detail_pages_load_the_links_and_payments_panels(owner_client, estimate, invoice):
    body = owner_client.get(invoice.get_absolute_url()).content.decode()
    assert reverse("portal_dashboard:links_panel", args=["invoice", invoice.public_id]) in body
    assert reverse("billing_dashboard:invoice_payments", args=[invoice.public_id]) in body
    body = owner_client.get(estimate.get_absolute_url()).content.decode()
    assert reverse("portal_dashboard:links_panel", args=["estimate", estimate.public_id]) in body
