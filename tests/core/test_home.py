from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from crewcommand.lib.activity import Actor
from documents.models import Invoice
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def _overdue_invoice(owner, customer, amount="120.00"):
    invoice = InvoiceFactory(
        customer=customer,
        actor=Actor.member(owner.user),
        lines=({"description": "Labour", "unit_price": amount, "taxable": False},),
    )
    Invoice.objects.filter(pk=invoice.pk).update(
        issue_date=timezone.localdate() - dt.timedelta(days=20),
        due_date=timezone.localdate() - dt.timedelta(days=5),
    )
    return invoice


def test_home_shows_what_needs_attention_and_the_charts(owner_client, owner, customer):
    invoice = _overdue_invoice(owner, customer)
    body = owner_client.get(reverse("dashboard:home")).content.decode()
    assert invoice.display_number in body
    assert "Estimates, last 30 days" in body and 'class="funnel"' in body
    assert "collected vs outstanding" in body and "$120.00" in body


def test_home_counts_every_overdue_invoice_not_just_the_listed_ones(owner_client, owner, customer):
    for _ in range(10):
        _overdue_invoice(owner, customer)
    response = owner_client.get(reverse("dashboard:home"))
    assert response.context["summary"]["overdue_count"] == 10
    assert "10 invoices" in response.content.decode()
    assert len(response.context["overdue"]) == 8


def test_home_query_count_does_not_grow(
    owner_client, owner, customer, django_assert_max_num_queries
):
    _overdue_invoice(owner, customer)
    with django_assert_max_num_queries(20) as few:
        owner_client.get(reverse("dashboard:home"))
    for _ in range(10):
        _overdue_invoice(owner, customer)
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(reverse("dashboard:home"))
