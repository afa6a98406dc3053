"""A link reaches exactly its scope: every portal URL, for another document of the same
customer, another customer's or another company's, answers 404 (or 405), never the document."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from documents.models import EstimateStatus
from tests.factories import CompanyFactory, CustomerFactory, EstimateFactory, InvoiceFactory
from tests.portal.conftest import PHONE_UA
from tests.portal.helpers import accept_data, issue
from tests.urlwalk import _walk

pytestmark = pytest.mark.django_db


def portal_routes():
    from django.urls import get_resolver

    return [
        r
        for r in _walk(get_resolver().url_patterns, "", None)
        if r.name.startswith(("portal:", "billing_portal:"))
    ]


def test_the_walk_sees_every_portal_url():
    names = {route.name for route in portal_routes()}
    assert {
        "portal:home",
        "portal:estimate",
        "portal:estimate_accept",
        "portal:invoice_pdf",
    } <= names
    for route in portal_routes():
        # A new kind of id in a portal URL needs a foreign object in _targets below.
        assert set(route.kwargs) <= {"token", *FOREIGN_KWARGS}, route


@pytest.fixture
def world(company, customer):
    """Documents X (linked) and Y of one customer, plus another customer's and another
    company's documents."""
    sibling = CustomerFactory(company=company)
    stranger = CustomerFactory(company=CompanyFactory())
    return {
        "x_estimate": EstimateFactory(customer=customer),
        "x_invoice": InvoiceFactory(customer=customer),
        "y_estimate": EstimateFactory(customer=customer),
        "y_invoice": InvoiceFactory(customer=customer),
        "sibling_estimate": EstimateFactory(customer=sibling),
        "sibling_invoice": InvoiceFactory(customer=sibling),
        "stranger_estimate": EstimateFactory(customer=stranger),
        "stranger_invoice": InvoiceFactory(customer=stranger),
    }


# Payments (billing) get a well-formed id that names nothing: billing's tests cover a real
# payment of another customer; here it proves the route can't be reached past the link.
FOREIGN_KWARGS = {"estimate_id", "invoice_id", "payment_id"}


def _targets(world, scope: str) -> list[dict]:
    """Kwarg sets the link must not reach."""
    out = [{"payment_id": "a" * 14}]
    others = ["sibling", "stranger"] + (["y"] if scope != "customer" else [])
    if scope == "estimate":
        others.append("x_cross")
    for who in others:
        if who == "x_cross":  # an estimate link reaching the same customer's invoice
            out.append({"invoice_id": world["x_invoice"].public_id})
            continue
        out.append(
            {
                "estimate_id": world[f"{who}_estimate"].public_id,
                "invoice_id": world[f"{who}_invoice"].public_id,
            }
        )
    return out


@pytest.mark.parametrize("scope", ["estimate", "invoice", "customer"])
def test_a_link_cannot_reach_anything_outside_its_scope(world, customer, scope):
    document = {"estimate": world["x_estimate"], "invoice": world["x_invoice"]}.get(scope)
    issued = issue(customer, document)
    client = Client(HTTP_USER_AGENT=PHONE_UA)
    checked = 0
    for route in portal_routes():
        needed = set(route.kwargs) - {"token"}
        if not needed:
            continue
        for target in _targets(world, scope):
            if not needed <= set(target):
                continue
            url = reverse(
                route.name, kwargs={"token": issued.token, **{k: target[k] for k in needed}}
            )
            for method in ("get", "post"):
                data = accept_data(world["x_estimate"]) if method == "post" else None
                response = getattr(client, method)(url, data)
                assert response.status_code in {404, 405}, (scope, route.name, method, url)
                checked += 1
    assert checked >= 20
    for key in ("y_estimate", "sibling_estimate", "stranger_estimate"):
        world[key].refresh_from_db()
        assert world[key].status == EstimateStatus.SENT


def test_the_same_urls_work_within_scope(world, customer):
    issued = issue(customer)
    client = Client(HTTP_USER_AGENT=PHONE_UA)
    for route in portal_routes():
        post_only = any(word in route.name for word in ("accept", "choose", "language", "code"))
        if post_only or "pdf" in route.name or "payment_id" in route.kwargs:
            continue
        kwargs = {"token": issued.token}
        if "estimate_id" in route.kwargs:
            kwargs["estimate_id"] = world["y_estimate"].public_id
        if "invoice_id" in route.kwargs:
            kwargs["invoice_id"] = world["y_invoice"].public_id
        response = client.get(reverse(route.name, kwargs=kwargs))
        assert response.status_code in {200, 302}, route.name


def test_a_token_in_the_url_must_match_the_resolved_one(estimate_link, estimate):
    """The view re-checks the token kwarg against the middleware's (defence in depth)."""
    from django.http import Http404
    from django.test import RequestFactory

    from portal import views_portal as views
    from portal.middleware import PortalContext

    request = RequestFactory().get("/")
    request.portal = PortalContext(link=estimate_link.link, token=estimate_link.token)
    request.htmx = False
    with pytest.raises(Http404):
        views.estimate(request, token="other", estimate_id=estimate.public_id)
