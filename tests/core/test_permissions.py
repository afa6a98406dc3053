"""Roles: every dashboard URL with every role against the one permission table.

The walk takes every route under /app/ from the URL resolver (like the tenancy walk), so a URL
added later is covered without anyone listing it: if it takes a POST and its view names no
action from ``crewcommand.permissions.PERMISSIONS``, the walk fails."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.test import Client
from django.urls import resolve

from crewcommand.lib.activity import Actor
from crewcommand.models import Role
from crewcommand.permissions import MANAGERS, OWNERS, PERMISSIONS
from documents import services as documents_services
from documents.views import ACTIONS
from tests.factories import LINE, LineItemFactory, MemberFactory
from tests.urlwalk import contractor_routes, dashboard_objects, url_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def technician(company):
    return MemberFactory(company=company, role=Role.TECHNICIAN)


@pytest.fixture
def clients(owner, office, technician) -> dict[str, Client]:
    clients = {}
    for member in (owner, office, technician):
        clients[member.role] = Client(raise_request_exception=True)
        clients[member.role].force_login(member.user)
    return clients


def _declared(url: str) -> str | None:
    """The action the URL's view names ("missing" when it is not behind member_required)."""
    match = resolve(url)
    permission = getattr(match.func, "permission", "missing")
    if permission is None or isinstance(permission, str):
        return permission
    return permission(**match.kwargs)


def _urls(objects: dict):
    """Every dashboard URL, with one URL per action for views that serve several."""
    for route in contractor_routes():
        if "action" in route.kwargs:
            kind = route.name.split(":")[-1].removesuffix("_action")
            for k, action in ACTIONS:
                if k == kind:
                    yield route, url_for(route, objects, action=action)
        else:
            yield route, url_for(route, objects)


def _request(client: Client, method: str, url: str):
    """One request whose changes are rolled back, so every role meets the same rows."""
    with transaction.atomic():
        response = getattr(client, method)(url)
        transaction.set_rollback(True)
    return response


def test_every_dashboard_url_answers_each_role_as_the_permission_table_says(
    owner, customer, job, clients
):
    objects = dashboard_objects(owner=owner, customer=customer, job=job)
    post_urls = refused = 0
    for route, url in _urls(objects):
        action = _declared(url)
        assert action != "missing", f"{route.name} is not behind member_required"
        methods = ["post"]
        owner_post = _request(clients[Role.OWNER], "post", url)
        if owner_post.status_code == 405:
            methods = []  # read-only: its GET is checked below when it names an action
        else:
            post_urls += 1
            assert action is not None, (
                f"{route.name} takes a POST but names no action: "
                "use member_required(action=...) with an entry of crewcommand.permissions"
            )
        if action is not None and action != "dashboard.view":
            methods.append("get")
        allowed = PERMISSIONS[action or "dashboard.view"]
        for role, client in clients.items():
            for method in methods:
                response = _request(client, method, url)
                where = (route.name, url, role, method, response.status_code)
                if role in allowed:
                    assert response.status_code in {200, 204, 302, 405}, where
                else:
                    assert response.status_code == 403, where
                    assert "Not allowed" in response.content.decode(), where
                    refused += 1
    assert post_urls >= 20
    assert refused >= 40


def test_the_table_keeps_money_and_company_changes_from_technicians():
    """The policy itself, so that a loosened table fails loudly (see README, Roles)."""
    for action in (
        "payment.record",
        "payment.refund",
        "payment.view",
        "invoice.void",
        "invoice.send",
        "estimate.revise",
        "estimate.send",
        "link.manage",
    ):
        assert PERMISSIONS[action] == MANAGERS, action
    for action in ("company.settings", "team.manage", "stripe.manage"):
        assert PERMISSIONS[action] == OWNERS, action
    for action, roles in PERMISSIONS.items():
        assert Role.OWNER in roles, action


def test_a_technician_cannot_revise_a_sent_estimate_by_editing_its_lines(
    owner, technician, customer, job
):
    """Editing a sent estimate starts a new revision: the edit URLs need estimate.revise."""
    actor = Actor.member(owner.user)
    estimate = documents_services.estimate_create(
        company=owner.company, customer=customer, job=job, actor=actor
    )
    line = LineItemFactory(doc=estimate, actor=actor)
    estimate.current_revision.sent_at = estimate.created_at
    estimate.current_revision.save(update_fields=["sent_at"])
    client = Client()
    client.force_login(technician.user)
    base = f"/app/estimates/{estimate.public_id}"
    posts = {
        f"{base}/lines/": {**LINE, "quantity": "2"},
        f"{base}/lines/{line.public_id}/": {**LINE, "description": "Changed"},
        f"{base}/lines/{line.public_id}/delete/": {},
        f"{base}/lines/{line.public_id}/move/": {"direction": "up"},
        f"{base}/details/": {},
        f"{base}/revise/": {},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    estimate.refresh_from_db()
    assert estimate.revisions.count() == 1
    assert estimate.current_revision.lines.get().description == LINE["description"]


def test_technicians_do_not_see_buttons_they_cannot_use(owner, technician, customer, job, office):
    actor = Actor.member(owner.user)
    invoice = documents_services.invoice_create(
        company=owner.company, customer=customer, actor=actor
    )
    LineItemFactory(doc=invoice, actor=actor)
    tech, office_client = Client(), Client()
    tech.force_login(technician.user)
    office_client.force_login(office.user)
    page = tech.get(invoice.get_absolute_url()).content.decode()
    assert "/void/" not in page and "/send/" not in page
    assert "/app/billing/payments/" not in page  # the Payments menu entry
    assert "/duplicate/" in page  # drafts are theirs to make
    panel = tech.get(f"/app/billing/invoices/{invoice.public_id}/payments/").content.decode()
    assert "payments/new/" not in panel
    assert "record cash, cheques and e-Transfers yourself" not in panel
    assert "the office records cash, cheques and e-Transfers" in panel
    office_page = office_client.get(invoice.get_absolute_url()).content.decode()
    assert "/void/" in office_page and "/send/" in office_page
    office_panel = office_client.get(
        f"/app/billing/invoices/{invoice.public_id}/payments/"
    ).content.decode()
    assert "payments/new/" in office_panel
    assert "record cash, cheques and e-Transfers yourself" in office_panel


def test_a_technician_cannot_record_a_payment_or_void_an_invoice(owner, technician, customer):
    from billing.models import Payment

    actor = Actor.member(owner.user)
    invoice = documents_services.invoice_create(
        company=owner.company, customer=customer, actor=actor
    )
    LineItemFactory(doc=invoice, actor=actor)
    invoice = documents_services.invoice_send(invoice=invoice, actor=actor)
    client = Client()
    client.force_login(technician.user)
    record = client.post(
        f"/app/billing/invoices/{invoice.public_id}/payments/new/",
        {"amount": "10.00", "method": "cash", "received_on": "2026-11-01"},
    )
    assert record.status_code == 403
    assert "Your role (Technician) can't do this" in record.content.decode()
    assert client.post(f"/app/invoices/{invoice.public_id}/void/").status_code == 403
    invoice.refresh_from_db()
    assert invoice.status != "void"
    assert not Payment.objects.filter(invoice=invoice).exists()


def test_a_refused_htmx_request_tells_the_user_why_in_a_toast(owner, technician, customer):
    """A panel's form posted in place by a role that can't use it (a tab opened before the
    role changed): htmx swaps no 403 page into the panel, so the reason comes as a toast."""
    actor = Actor.member(owner.user)
    invoice = documents_services.invoice_create(
        company=owner.company, customer=customer, actor=actor
    )
    LineItemFactory(doc=invoice, actor=actor)
    invoice = documents_services.invoice_send(invoice=invoice, actor=actor)
    client = Client()
    client.force_login(technician.user)
    refused = client.post(
        f"/app/billing/invoices/{invoice.public_id}/payments/new/",
        {"amount": "10.00", "method": "cash", "received_on": "2026-11-01"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="billing-panel",
    )
    assert refused.status_code == 403
    toast = json.loads(refused["HX-Trigger"])["showToast"]
    assert toast == {
        "level": "error",
        "message": "Your role (Technician) can't do this. Nothing was changed.",
    }
    assert refused["HX-Reswap"] == "none"
    # Without htmx, the full 403 page as before, and no htmx headers.
    page = client.post(f"/app/invoices/{invoice.public_id}/void/")
    assert page.status_code == 403 and "HX-Trigger" not in page
    assert "Your role (Technician) can't do this" in page.content.decode()
