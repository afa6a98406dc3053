"""What a logged-in user is sent (dashboard pages, document PDFs) is ``Cache-Control: private,
no-store``; static files keep WhiteNoise's caching and the portal keeps its own headers."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import EstimateFactory, InvoiceFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db


def _directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def test_dashboard_pages_and_document_pdfs_are_private_no_store(owner_client, customer, job):
    estimate, invoice = EstimateFactory(customer=customer), InvoiceFactory(customer=customer)
    urls = [
        reverse("dashboard:home"),
        reverse("dashboard:customer_list"),
        reverse("dashboard:customer_detail", args=[customer.public_id]),
        reverse("dashboard:job_detail", args=[job.public_id]),
        reverse("documents:estimate_list"),
        reverse("documents:estimate_detail", args=[estimate.public_id]),
        reverse("documents:invoice_detail", args=[invoice.public_id]),
        reverse("documents:estimate_pdf", args=[estimate.public_id]),
        reverse("documents:invoice_pdf", args=[invoice.public_id]) + "?download=1",
        reverse("dashboard:settings"),
    ]
    for url in urls:
        response = owner_client.get(url)
        assert response.status_code == 200, url
        assert {"private", "no-store"} <= _directives(response), url
    pdf = owner_client.get(reverse("documents:invoice_pdf", args=[invoice.public_id]))
    assert pdf["Content-Type"] == "application/pdf"
    assert _directives(pdf) == {"private", "no-store"}


def test_htmx_fragments_for_a_logged_in_user_are_private_no_store(owner_client):
    response = owner_client.get(reverse("documents:estimate_list"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert {"private", "no-store"} <= _directives(response)


def test_static_files_keep_whitenoise_caching_for_a_logged_in_user(owner_client):
    response = owner_client.get("/static/css/app.css")
    assert response.status_code == 200
    assert "no-store" not in _directives(response) and "private" not in _directives(response)


def test_anonymous_pages_and_the_portal_keep_their_own_headers(owner_client, customer):
    landing = Client().get(reverse("landing"))
    assert landing.status_code == 200 and "no-store" not in _directives(landing)
    issued = issue(customer, InvoiceFactory(customer=customer))
    anonymous = Client().get(f"/p/{issued.token}/", follow=True)
    assert anonymous.status_code == 200
    assert anonymous["Cache-Control"] == "no-store"
    # A contractor opening their customer's link sees the portal's headers unchanged.
    logged_in = owner_client.get(f"/p/{issued.token}/", follow=True)
    assert logged_in.status_code == 200 and logged_in["Cache-Control"] == "no-store"
