"""Tenancy of every list and every figure: another company's rows change nothing a contractor
sees on any page without an id (lists, their filters, home cards, funnel, money chart, list
totals, the payments ledger), and the document services refuse another company's parties.

The pages to check come from the URL resolver (``tests.urlwalk``) and the filter links each
page offers, so a list added later is covered without being named here."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import PaymentMethod
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from documents import services as documents
from documents.models import PaymentTerms
from tests.factories import (
    CustomerFactory,
    EstimateFactory,
    InvoiceFactory,
    JobFactory,
    PaymentFactory,
)
from tests.urlwalk import contractor_routes, dashboard_objects

pytestmark = pytest.mark.django_db

# Per-request values that differ between two renders of the same data.
_VOLATILE = [
    re.compile(r'nonce="[^"]*"'),
    re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"'),
    re.compile(r'"X-CSRFToken"\s*:\s*"[^"]*"'),
    re.compile(r"X-CSRFToken&quot;:\s*&quot;[^&]*&quot;"),
]
# Pages that only redirect to Stripe or act: they carry no rows.
_SKIP = {"billing_dashboard:stripe_onboard", "billing_dashboard:stripe_disconnect"}


def _normalised(body: str) -> str:
    for pattern in _VOLATILE:
        body = pattern.sub("", body)
    return body


def _populate(member, *, name: str, amount: str):
    """A company's everyday rows: a scheduled job, every dashboard object the tenancy walk
    knows, an overdue invoice partly paid, and a sent estimate (funnel, attention cards)."""
    actor = Actor.member(member.user)
    customer = CustomerFactory(company=member.company, name=name)
    now = timezone.now()
    job = JobFactory(
        customer=customer,
        title=f"{name} job",
        scheduled_start=now,
        scheduled_end=now + dt.timedelta(hours=2),
    )
    dashboard_objects(owner=member, customer=customer, job=job)
    invoice = InvoiceFactory(
        customer=customer,
        job=job,
        actor=actor,
        issue_date=timezone.localdate() - dt.timedelta(days=40),
        terms=PaymentTerms.NET_30,
        lines=({"description": f"{name} work", "quantity": "2", "unit_price": amount},),
    )
    PaymentFactory(invoice=invoice, actor=actor, amount="13.37", method=PaymentMethod.CHEQUE)
    EstimateFactory(
        customer=customer,
        job=job,
        actor=actor,
        revision={},
        lines=({"description": f"{name} quote", "quantity": "2", "unit_price": amount},),
    )
    return customer


def _list_urls(client) -> list[str]:
    """Every dashboard URL without an id, plus the filter and tab links each one offers
    (same path, other query string)."""
    urls = []
    for route in contractor_routes():
        if route.kwargs or route.name in _SKIP:
            continue
        url = reverse(route.name)
        urls.append(url)
        body = client.get(url).content.decode()
        for href in re.findall(r'href="([^"#]+)"', body):
            href = unescape(href)
            parts = urlsplit(href)
            if parts.path == url and parts.query and href not in urls:
                urls.append(href)
    return urls


def _render(client, urls: list[str]) -> dict[str, tuple[int, str]]:
    out = {}
    for url in urls:
        response = client.get(url)
        out[url] = (response.status_code, _normalised(response.content.decode()))
    return out


def test_another_companys_rows_change_no_list_or_total(owner, outsider, outsider_client):
    """Company B (the outsider) has its own rows. Adding company A's rows, with their own
    names and amounts, must leave every page B sees byte for byte the same."""
    _populate(outsider, name="Beatrix Rivalsson", amount="314.15")
    urls = _list_urls(outsider_client)
    assert {
        reverse("documents:invoice_list"),
        reverse("billing_dashboard:payment_list"),
        reverse("dashboard:home"),
    } <= set(urls)
    assert any("?" in url for url in urls), "no filter links found: the walk lost them"
    before = _render(outsider_client, urls)
    assert "Beatrix Rivalsson" in before[reverse("documents:invoice_list")][1]
    assert "$13.37" in before[reverse("billing_dashboard:payment_list")][1]

    _populate(owner, name="Zebulon Quartermaine", amount="9876.54")
    after = _render(outsider_client, urls)

    for url in urls:
        assert "Zebulon" not in after[url][1], url
        assert after[url] == before[url], f"{url} changed when another company got rows"


def test_the_owning_company_sees_its_rows_in_the_same_pages(owner, owner_client):
    """The other side of the test above: the walk's pages do show a company's own rows, so
    an unchanged page means scoped, not empty."""
    _populate(owner, name="Zebulon Quartermaine", amount="9876.54")
    for name in ("documents:invoice_list", "documents:estimate_list", "dashboard:home"):
        assert "Zebulon Quartermaine" in owner_client.get(reverse(name)).content.decode(), name
    ledger = owner_client.get(reverse("billing_dashboard:payment_list")).content.decode()
    assert "$13.37" in ledger


@pytest.fixture
def foreign(outsider):
    customer = CustomerFactory(company=outsider.company)
    return customer, JobFactory(customer=customer)


@pytest.mark.parametrize("create", ["estimate_create", "invoice_create"])
def test_document_services_refuse_another_companys_customer_or_job(
    owner, customer, job, foreign, create
):
    service = getattr(documents, create)
    actor = Actor.member(owner.user)
    foreign_customer, foreign_job = foreign
    for parties in (
        {"customer": foreign_customer},
        {"customer": foreign_customer, "job": foreign_job},
        {"customer": customer, "job": foreign_job},
    ):
        with pytest.raises(ServiceError):
            service(company=owner.company, actor=actor, **parties)
    other_customer = CustomerFactory(company=owner.company)
    with pytest.raises(ServiceError):  # a job of another customer of the same company
        service(company=owner.company, actor=actor, customer=other_customer, job=job)
    assert not foreign_customer.estimates.exists() and not foreign_customer.invoices.exists()
