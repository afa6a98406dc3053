"""Issue 18, point 4: the contractor previews an estimate or invoice as its customer sees it:
the portal's own page under a banner, with no token, no view recorded, no write, and nothing
that can sign or pay."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crewcommand.models import Activity
from documents.models import Estimate, EstimateStatus, Invoice, InvoiceStatus
from portal.models import PortalLink
from portal.tokens import token_hash
from tests.factories import EstimateFactory, InvoiceFactory, LineItemFactory
from tests.portal.helpers import accept_data, issue

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE")


def _preview_url(document: Estimate | Invoice) -> str:
    kind = "estimate" if isinstance(document, Estimate) else "invoice"
    return reverse("portal_dashboard:preview", args=[kind, document.public_id])


def _writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


def _state():
    links = list(PortalLink.objects.values_list("pk", "view_count", "last_viewed_at"))
    return links, Activity.objects.count()


@pytest.mark.parametrize("kind", ["estimate", "invoice"])
def test_a_preview_writes_nothing_records_no_view_and_carries_no_token(
    owner_client, estimate, invoice, kind
):
    document = estimate if kind == "estimate" else invoice
    # The customer has links already: none of them may show up in the preview.
    links = [issue(document.customer, document), issue(document.customer)]
    owner_client.get(document.get_absolute_url())  # the session and its writes, first
    before = _state()
    with CaptureQueriesContext(connection) as queries:
        response = owner_client.get(_preview_url(document))
    assert response.status_code == 200
    assert _writes(queries.captured_queries) == []
    assert _state() == before
    document.refresh_from_db()
    assert document.status == "sent" and document.viewed_at is None
    body = response.content.decode()
    for link in links:
        assert link.token not in body and token_hash(link.token) not in body
        assert link.link.reference not in body
    # Every portal address on the page names the preview, never a token.
    assert set(re.findall(r"/p/([^/\"]+)/", body)) == {"preview"}
    assert "Preview — this is what Alice Tremblay sees" in body
    assert response["Cache-Control"] == "no-store"
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_the_estimate_preview_is_the_customers_page_with_its_actions_inert(owner_client, estimate):
    body = owner_client.get(_preview_url(estimate)).content.decode()
    # The same page as the customer's: the work, the options, the sign section...
    for text in ("The work", "Choose your options", "Accept and sign", "Ask for changes"):
        assert text in body
    # ...in a body nothing can be pressed in.
    assert re.search(r'<main id="main"[^>]* inert>', body)
    banner = body.split('<main id="main"', 1)[0]
    assert "portal-preview-banner" in banner and "<form" not in banner
    # The language switcher (a form outside <main>) is not offered.
    assert 'name="language"' not in body


def test_the_server_refuses_whatever_the_preview_would_post(owner_client, estimate, invoice):
    body = owner_client.get(_preview_url(estimate)).content.decode()
    actions = set(re.findall(r'action="(/p/[^"]+)"', body))
    assert any(a.endswith("/accept/") for a in actions), actions
    customer = Client()
    for action in actions | {
        reverse("portal:estimate_decline", args=["preview", estimate.public_id]),
        reverse("billing_portal:pay_invoice", args=["preview", invoice.public_id]),
        reverse("billing_portal:pay_deposit", args=["preview", estimate.public_id]),
    }:
        response = customer.post(action, accept_data(estimate))
        assert response.status_code == 403, action
        assert "This is only a preview" in response.content.decode()
        # The contractor, signed in, is refused the same.
        assert owner_client.post(action, accept_data(estimate)).status_code == 403
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.SENT
    assert not hasattr(estimate, "signature") or estimate.signature is None
    # And the preview's own address takes no post.
    assert owner_client.post(_preview_url(estimate), accept_data(estimate)).status_code == 405


def test_the_invoice_preview_shows_the_way_to_pay_without_a_way_to_pay(owner_client, invoice):
    body = owner_client.get(_preview_url(invoice)).content.decode()
    assert "Balance due" in body and "How to pay" in body
    assert re.search(r'<main id="main"[^>]* inert>', body)
    pay = reverse("billing_portal:pay_invoice", args=["preview", invoice.public_id])
    assert Client().post(pay).status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.SENT and invoice.amount_paid == 0


def test_drafts_are_previewed_as_they_will_be_sent(owner_client, customer):
    estimate = EstimateFactory(customer=customer, sent=False)
    LineItemFactory(doc=estimate, description="Draft-only heat pump")
    invoice = InvoiceFactory(customer=customer, sent=False)
    for document in (estimate, invoice):
        response = owner_client.get(_preview_url(document))
        body = response.content.decode()
        assert response.status_code == 200
        assert "Preview of a draft — Alice Tremblay can&#x27;t see it yet" in body
        assert "what Alice Tremblay will see once you send it" in body
    body = owner_client.get(_preview_url(estimate)).content.decode()
    assert "Draft-only heat pump" in body and "Accept and sign" in body
    assert "is updating this estimate" not in body


def test_a_sent_estimate_being_revised_previews_the_new_draft(owner_client, estimate):
    from crewcommand.lib.activity import Actor
    from documents import services as documents_services

    documents_services.estimate_revise(estimate=estimate, actor=Actor.system())
    estimate.refresh_from_db()
    LineItemFactory(doc=estimate, description="Added in revision two")
    body = owner_client.get(_preview_url(estimate)).content.decode()
    assert "Added in revision two" in body and "Preview of a draft" in body


def test_the_preview_is_in_the_customers_language_and_the_banner_in_ours(owner_client, estimate):
    customer = estimate.customer
    customer.language = "fr-ca"
    customer.save(update_fields=["language"])
    body = owner_client.get(_preview_url(estimate)).content.decode()
    assert "Accepter et signer" in body  # the customer's page, in French
    assert "Preview — this is what Alice Tremblay sees" in body  # our banner, in English
    assert 'lang="en-ca"' in body


def test_another_companys_document_is_404_and_only_documents_preview(
    outsider_client, owner_client, estimate, customer
):
    assert outsider_client.get(_preview_url(estimate)).status_code == 404
    url = _preview_url(estimate).replace("/estimate/", "/customer/")
    assert owner_client.get(url).status_code == 404
    assert owner_client.get(url.replace(estimate.public_id, customer.public_id)).status_code == 404


def test_every_role_that_opens_documents_can_preview(client, company, estimate):
    from crewcommand.models import Role
    from tests.factories import MemberFactory

    for role in (Role.OWNER, Role.OFFICE, Role.TECHNICIAN):
        member = MemberFactory(company=company, role=role)
        client.force_login(member.user)
        assert client.get(estimate.get_absolute_url()).status_code == 200
        assert client.get(_preview_url(estimate)).status_code == 200
    client.logout()
    assert client.get(_preview_url(estimate)).status_code == 302  # to the login page


def test_a_preview_costs_the_same_queries_whatever_the_lines(
    owner_client, customer, django_assert_max_num_queries
):
    small = InvoiceFactory(customer=customer)
    lines = [{"description": f"Line {n}", "unit_price": "10.00"} for n in range(25)]
    big = InvoiceFactory(customer=customer, lines=lines)
    owner_client.get(_preview_url(small))
    with CaptureQueriesContext(connection) as few:
        owner_client.get(_preview_url(small))
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(_preview_url(big))


def test_the_document_pages_offer_the_preview(owner_client, estimate, invoice):
    for document in (estimate, invoice):
        body = owner_client.get(document.get_absolute_url()).content.decode()
        assert f'href="{_preview_url(document)}"' in body and "Preview as customer" in body


def test_the_tenancy_and_role_walks_reach_the_new_urls(owner, customer, job):
    from tests.urlwalk import contractor_routes, dashboard_objects, url_for

    routes = {route.name: route for route in contractor_routes()}
    objects = dashboard_objects(owner=owner, customer=customer, job=job)
    for name in ("portal_dashboard:preview", "portal_dashboard:link_extend"):
        assert name in routes
        assert url_for(routes[name], objects).startswith("/app/portal/")
