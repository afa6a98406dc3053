"""The contractor's side: the links panel on a document, link actions, the live status badge,
the audit trail and signature verification."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from crewcommand.lib.activity import Actor
from crewcommand.models import Role
from portal import services
from portal.models import PortalLink
from tests.factories import EstimateFactory, MemberFactory
from tests.portal.helpers import issue, sign

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def panel_url(kind, doc):
    return reverse("portal_dashboard:links_panel", args=[kind, doc.public_id])


def test_the_panel_lists_links_with_their_views(owner_client, estimate, estimate_link, phone):
    phone.get(reverse("portal:estimate", args=[estimate_link.token, estimate.public_id]))
    response = owner_client.get(panel_url("estimate", estimate), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert "<html" not in body  # a fragment for htmx
    assert estimate_link.link.reference in body and "Phone" in body and "Viewed" in body
    assert estimate_link.token not in body
    assert 'hx-trigger="every 10s"' in body
    full = owner_client.get(panel_url("estimate", estimate)).content.decode()
    assert "<html" in full and estimate_link.link.reference in full


def test_creating_a_link_shows_it_once(owner_client, estimate):
    response = owner_client.post(
        reverse("portal_dashboard:link_create", args=["estimate", estimate.public_id]),
        {"sent_to": "Alice's partner"},
        **HTMX,
    )
    body = response.content.decode()
    # (Sending the estimate made the SMS automation's link too: this one is named.)
    link = PortalLink.objects.get(sent_to="Alice's partner")
    assert link.estimate == estimate
    token = body.split("/p/", 1)[1].split("/", 1)[0]
    assert 'data-copy="' in body and link.token_hash != token
    assert response["Cache-Control"] == "no-store"
    assert token not in owner_client.get(panel_url("estimate", estimate), **HTMX).content.decode()
    assert Client().get(f"/p/{token}/", follow=True).status_code == 200


def test_revoke_and_regenerate(owner_client, estimate, estimate_link):
    regenerate = reverse("portal_dashboard:link_regenerate", args=[estimate_link.link.public_id])
    body = owner_client.post(regenerate, **HTMX).content.decode()
    new_token = body.split("/p/", 1)[1].split("/", 1)[0]
    assert Client().get(f"/p/{estimate_link.token}/").status_code == 404
    assert Client().get(f"/p/{new_token}/", follow=True).status_code == 200
    new = PortalLink.objects.filter(revoked_at=None).latest("id")  # the regenerated one
    owner_client.post(reverse("portal_dashboard:link_revoke", args=[new.public_id]), **HTMX)
    assert Client().get(f"/p/{new_token}/").status_code == 404


def test_technicians_see_links_but_cannot_change_them(company, estimate, estimate_link):
    tech = Client()
    tech.force_login(MemberFactory(company=company, role=Role.TECHNICIAN).user)
    body = tech.get(panel_url("estimate", estimate), **HTMX).content.decode()
    assert estimate_link.link.reference in body and "Revoke" not in body
    url = reverse("portal_dashboard:link_revoke", args=[estimate_link.link.public_id])
    assert tech.post(url).status_code == 403


def test_a_draft_estimate_cannot_get_a_link(owner_client, customer):
    draft = EstimateFactory(customer=customer, sent=False)
    response = owner_client.post(
        reverse("portal_dashboard:link_create", args=["estimate", draft.public_id]), **HTMX
    )
    assert "Send the estimate first" in response.content.decode()
    assert not PortalLink.objects.exists()


def test_the_status_badge_polls_until_the_customer_answers(
    owner_client, estimate, estimate_link, phone
):
    url = reverse("portal_dashboard:status_badge", args=["estimate", estimate.public_id])
    first = owner_client.get(url, {"was": "sent"}, **HTMX)
    assert "Sent" in first.content.decode() and "HX-Trigger" not in first
    phone.get(reverse("portal:estimate", args=[estimate_link.token, estimate.public_id]))
    viewed = owner_client.get(url, {"was": "sent"}, **HTMX)
    assert "Viewed" in viewed.content.decode() and viewed["HX-Trigger"] == "portal-status-changed"
    sign(estimate, estimate_link)
    accepted = owner_client.get(url, {"was": "viewed"}, **HTMX).content.decode()
    assert "Accepted" in accepted and "every 10s" not in accepted  # final: polling stops


def test_the_panel_shows_the_audit_trail_and_verifies(owner_client, estimate, estimate_link):
    signature = sign(estimate, estimate_link)
    body = owner_client.get(panel_url("estimate", estimate), **HTMX).content.decode()
    for text in (
        "Signature audit trail",
        "Alice Tremblay",
        "203.0.113.9",
        signature.content_sha256,
        estimate_link.link.reference,
        "electronically",
    ):
        assert text in body, text
    verify = reverse("portal_dashboard:signature_verify", args=[signature.public_id])
    assert "Verified" in owner_client.get(verify, **HTMX).content.decode()


def test_the_panel_shows_what_the_customer_said(owner_client, estimate, estimate_link, phone):
    phone.post(
        reverse("portal:estimate_changes", args=[estimate_link.token, estimate.public_id]),
        {"message": "Could you start in May?"},
    )
    body = owner_client.get(panel_url("estimate", estimate), **HTMX).content.decode()
    assert "Could you start in May?" in body


def test_customer_wide_links_have_a_panel_too(owner_client, customer):
    link = issue(customer).link
    body = owner_client.get(panel_url("customer", customer), **HTMX).content.decode()
    assert link.reference in body


def test_another_company_cannot_see_or_touch_links(outsider_client, estimate, estimate_link):
    assert outsider_client.get(panel_url("estimate", estimate)).status_code == 404
    url = reverse("portal_dashboard:link_revoke", args=[estimate_link.link.public_id])
    assert outsider_client.post(url).status_code == 404
    estimate_link.link.refresh_from_db()
    assert estimate_link.link.revoked_at is None


def test_the_panel_uses_a_constant_number_of_queries(
    owner_client, estimate, django_assert_max_num_queries
):
    def regenerated_link():
        # A regenerated link reads its replacement: a relation the panel must not fetch per row.
        issued = issue(estimate.customer, estimate)
        services.link_regenerate(link=issued.link, actor=Actor.system())

    regenerated_link()
    with django_assert_max_num_queries(12) as one:
        owner_client.get(panel_url("estimate", estimate), **HTMX)
    for _ in range(9):
        regenerated_link()
    with django_assert_max_num_queries(len(one.captured_queries)):
        owner_client.get(panel_url("estimate", estimate), **HTMX)
