"""Abuse: a flood of posts from one address leaves at most the allowed number of requests and
never a 5xx; the per-company limit holds across addresses."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from booking.models import ServiceRequest
from tests.booking.helpers import valid_post

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def day_rates(settings):
    # Day-long windows, so the test never straddles a window boundary.
    settings.BOOKING_RATE_LIMITS = {"attempts": "30/d", "ip": "5/d", "company": "8/d"}


def test_a_flood_of_1000_posts_from_one_address_leaves_at_most_the_allowed_requests(
    company, day_rates
):
    client = Client(REMOTE_ADDR="203.0.113.9")
    url = reverse("booking_public:book", args=[company.slug])
    statuses: dict[int, int] = {}
    for i in range(1000):
        data = valid_post(name=f"Bot {i}") if i % 3 else valid_post(phone="nope")
        status = client.post(url, data).status_code
        statuses[status] = statuses.get(status, 0) + 1
    assert all(code < 500 for code in statuses), statuses
    assert ServiceRequest.objects.count() <= 5
    assert ServiceRequest.objects.count() >= 1
    assert statuses.get(429, 0) >= 900, statuses


def test_the_company_limit_holds_when_the_address_changes(company, day_rates):
    url = reverse("booking_public:book", args=[company.slug])
    for i in range(20):
        Client(REMOTE_ADDR=f"198.51.100.{i + 1}").post(url, valid_post(name=f"Person {i}"))
    assert ServiceRequest.objects.count() == 8


def test_a_refused_post_says_why_next_to_the_form(company, day_rates):
    client = Client(REMOTE_ADDR="203.0.113.10")
    url = reverse("booking_public:book", args=[company.slug])
    for _ in range(5):
        client.post(url, valid_post())
    response = client.post(url, valid_post())
    assert response.status_code == 429
    assert 'class="form-errors"' in response.content.decode()
    assert ServiceRequest.objects.count() == 5
