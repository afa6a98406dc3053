"""Issue 12, point 5 (last part): the way to the customer from a document, and to their
customer-wide portal link, is labelled with the customer's name, not a generic "customer"."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.mark.parametrize("kind", ["estimate", "invoice"])
def test_a_documents_page_links_to_the_customer_by_name(owner_client, estimate, invoice, kind):
    doc = estimate if kind == "estimate" else invoice
    body = owner_client.get(doc.get_absolute_url()).content.decode()
    url = doc.customer.get_absolute_url()
    assert f'For <a href="{url}">Alice Tremblay</a>' in body
    assert not re.search(r">\s*customer\s*</a>", body)


@pytest.mark.parametrize("kind", ["estimate", "invoice"])
def test_a_documents_links_panel_names_the_customers_portal_link(
    owner_client, estimate, invoice, kind
):
    doc = estimate if kind == "estimate" else invoice
    url = reverse("portal_dashboard:links_panel", args=[kind, doc.public_id])
    body = owner_client.get(url, headers=HX).content.decode()
    customer_url = doc.customer.get_absolute_url()
    assert f'<a href="{customer_url}#links-panel">Alice Tremblay\'s portal link</a>' in body


def test_the_customers_own_panel_is_headed_with_their_name(owner_client, customer):
    url = reverse("portal_dashboard:links_panel", args=["customer", customer.public_id])
    body = owner_client.get(url, headers=HX).content.decode()
    assert "Alice Tremblay's portal links</h2>" in body
    assert "portal link</a>" not in body  # no link to itself
