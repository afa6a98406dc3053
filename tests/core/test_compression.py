"""Customer pages are gzipped (the portal ``/p/``, booking ``/book/``, review links ``/r/``);
dashboard pages are not (BREACH: see ``crewcommand.middleware.CustomerPageGZipMiddleware``)."""

from __future__ import annotations

import gzip

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import InvoiceFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db

GZIP = {"accept-encoding": "gzip, deflate, br"}


def test_the_portal_page_is_gzipped_and_reads_the_same(customer):
    invoice = InvoiceFactory(customer=customer)
    link = issue(customer)
    url = reverse("portal:invoice", args=[link.token, invoice.public_id])
    plain = Client().get(url)
    zipped = Client(headers=GZIP).get(url)
    assert plain.status_code == zipped.status_code == 200
    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    body = gzip.decompress(zipped.content)
    assert invoice.display_number.encode() in body
    assert len(zipped.content) < len(body) / 2


def test_the_booking_page_is_gzipped(company):
    response = Client(headers=GZIP).get(reverse("booking_public:book", args=[company.slug]))
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"


def test_dashboard_pages_are_not_compressed(owner_client, customer):
    owner_client.defaults["HTTP_ACCEPT_ENCODING"] = "gzip"
    for url in ("/app/", reverse("documents:invoice_list"), customer.get_absolute_url()):
        response = owner_client.get(url)
        assert response.status_code == 200, url
        assert "Content-Encoding" not in response, url
