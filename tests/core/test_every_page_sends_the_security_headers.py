"""Security headers on every page, found by walking the URL configuration: the dashboard,
the public pages, the admin, the customer portal (valid and dead links) and the pay return
pages, whatever the answer (200, redirect, 404, 405). A view that drops or loosens a header
(an ``xframe_options_exempt``, a CSP override, a portal response that skips the middleware)
fails here even if the login page is fine."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import NoReverseMatch, get_resolver, reverse

from portal.tokens import new_token
from tests.factories import EstimateFactory, InvoiceFactory
from tests.portal.conftest import PHONE_UA
from tests.portal.helpers import issue
from tests.urlwalk import _walk, dashboard_objects, url_for

pytestmark = pytest.mark.django_db

# Kwargs of public and admin routes: values that reach the view (which may answer 404).
FILLERS = {
    "token": "x" * 43,
    "uidb64": "MQ",
    "payment_id": "a" * 14,
    "slug": "no-such-company",  # booking pages (a 404 here)
    "object_id": "1",
    "content_type_id": "1",
    "id": "1",
}
# Private answers: the portal, and the pay return pages reached from it.
PRIVATE = ("/p/", "/pay/")


def _check(url: str, response) -> None:
    where = (url, response.status_code)
    assert response["X-Frame-Options"] == "DENY", where
    assert response["X-Content-Type-Options"] == "nosniff", where
    csp = response.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, where
    # The nonce is added only on pages that use it.
    assert re.search(r"script-src 'self'( 'nonce-[^']+')?;", csp), where
    assert "unsafe-inline" not in csp, where
    assert "unsafe-eval" not in csp, where
    if url.startswith(PRIVATE):
        assert response["Referrer-Policy"] == "no-referrer", where
        assert "no-store" in response["Cache-Control"], where
        assert "noindex" in response["X-Robots-Tag"], where
    else:
        assert response["Referrer-Policy"] in {"same-origin", "no-referrer"}, where


def _all_routes():
    return list(_walk(get_resolver().url_patterns, "", None))


def test_every_dashboard_page_sends_the_security_headers(owner, customer, job, owner_client):
    objects = dashboard_objects(owner=owner, customer=customer, job=job)
    checked = 0
    for route in _all_routes():
        if not route.route.startswith("app/"):
            continue
        url = url_for(route, objects)
        _check(url, owner_client.get(url))
        _check(url, Client().get(url))  # signed out: the redirect to the login page
        checked += 1
    assert checked >= 50


def test_every_public_and_admin_page_sends_the_security_headers(owner_client):
    checked, unreachable = 0, []
    for route in _all_routes():
        if route.route.startswith(("app/", "p/")):
            continue
        try:
            url = reverse(route.name, kwargs={k: FILLERS[k] for k in route.kwargs})
        except NoReverseMatch:
            unreachable.append(route.name)
            continue
        _check(url, Client().get(url))
        if not url.startswith("/admin/"):
            _check(url, owner_client.get(url))
        checked += 1
    assert checked >= 40 and unreachable == ["admin:app_list"], unreachable
    _check("/no/such/page/", Client().get("/no/such/page/"))


def test_every_portal_page_sends_the_private_headers_for_live_and_dead_links(customer):
    estimate, invoice = EstimateFactory(customer=customer), InvoiceFactory(customer=customer)
    live = issue(customer).token
    phone = Client(HTTP_USER_AGENT=PHONE_UA)
    checked = 0
    for route in _all_routes():
        if not route.route.startswith("p/"):
            continue
        for token in (live, new_token()):
            kwargs = {
                "token": token,
                "estimate_id": estimate.public_id,
                "invoice_id": invoice.public_id,
                "payment_id": "a" * 14,
            }
            url = reverse(route.name, kwargs={k: kwargs[k] for k in route.kwargs})
            _check(url, phone.get(url))
            checked += 1
    assert checked >= 20
