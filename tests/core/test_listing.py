"""``crewcommand/lib/listing.py``: the one list-page skeleton, as each list uses it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LISTS = [
    "dashboard:customer_list",
    "dashboard:job_list",
    "documents:estimate_list",
    "documents:invoice_list",
    "billing_dashboard:payment_list",
]
PARTIAL = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}


@pytest.mark.parametrize("name", LISTS)
def test_every_list_is_a_page_or_its_results(owner_client, name):
    url = reverse(name)
    whole = owner_client.get(url).content.decode()
    boosted = owner_client.get(url, headers=BOOSTED).content.decode()
    partial = owner_client.get(url, headers=PARTIAL).content.decode()
    assert "<html" in whole and "<html" in boosted
    assert "<html" not in partial and partial.strip()


def test_pages_of_25_and_junk_page_numbers_land_on_a_real_page(owner_client, company):
    CustomerFactory.create_batch(26, company=company)
    url = reverse("dashboard:customer_list")
    first = owner_client.get(url).context["page"]
    assert (first.number, len(first.object_list), first.paginator.num_pages) == (1, 25, 2)
    assert owner_client.get(url, {"page": "99"}).context["page"].number == 2
    assert owner_client.get(url, {"page": "x"}).context["page"].number == 1
