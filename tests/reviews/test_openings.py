"""The review landing page writes nothing to the database on GET: openings are counted in the
cache and written by the worker in one flush per burst (``reviews/openings.py``). A real worker
on Redis proves the counts arrive and the dashboard's figures are right."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crewcommand.models import Activity
from reviews import openings, selectors, services
from reviews.models import ReviewRequest
from tests.factories import MemberFactory
from tests.worker import wait_for

WRITES = ("INSERT", "UPDATE", "DELETE")


def _writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


def _link(customer) -> str:
    customer.company.google_review_url = "https://search.google.example/local/writereview?x=1"
    customer.company.save(update_fields=["google_review_url"])
    url = services.review_link_for(customer=customer)
    return re.search(r"/r/[^/]+/$", url).group(0)


@pytest.mark.worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_openings_write_nothing_and_the_worker_flushes_each_burst(
    celery_worker_process, customer, settings
):
    settings.PORTAL_VIEW_FLUSH_SECONDS = 1
    link = _link(customer)
    client = Client()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(4):
            assert client.get(link).status_code == 200
    assert _writes(queries.captured_queries) == []

    request = wait_for(
        lambda: ReviewRequest.objects.filter(customer=customer, open_count=4).first()
    )
    assert request.first_opened_at <= request.last_opened_at
    opened = Activity.objects.filter(verb="review_request.opened")
    assert wait_for(lambda: opened.count() == 1)

    # A second burst adds to the count; the timeline keeps its one "opened" row.
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            client.get(link)
    assert _writes(queries.captured_queries) == []
    assert wait_for(lambda: ReviewRequest.objects.get(customer=customer).open_count == 7)
    assert opened.count() == 1

    # The dashboard shows what the worker wrote.
    totals = selectors.totals(company=customer.company)
    assert totals.opened == 1
    member = MemberFactory(company=customer.company)
    dashboard = Client()
    dashboard.force_login(member.user)
    page = dashboard.get(reverse("reviews_dashboard:review_list"))
    assert page.status_code == 200


@pytest.mark.django_db
def test_openings_counted_meanwhile_wait_for_the_next_flush(customer):
    """The flush takes from the counter exactly what it wrote."""
    link = _link(customer)
    request = ReviewRequest.objects.get(customer=customer)
    Client().get(link)  # inline: counted and flushed at once
    # An opening counted while the task is away (an earlier time than the page's own).
    client = openings._redis()
    if client is None:
        openings._note_in_cache(request.pk, request.created_at)
    else:
        openings._note_in_redis(client, request.pk, request.created_at)
    assert ReviewRequest.objects.get(pk=request.pk).open_count == 1
    assert openings.flush(request_id=request.pk) == 1
    assert openings.flush(request_id=request.pk) == 0
    request.refresh_from_db()
    assert request.open_count == 2
    # The pending opening was earlier than the stored first one: the first opening moves back.
    assert request.first_opened_at == request.created_at
