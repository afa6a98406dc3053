"""The job page's activity feed: what happened to the job is listed in its Activity card, in
order, with who did it (the status badge and the customer's name elsewhere on the page prove
nothing about the feed)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _activity_card(body: str) -> str:
    match = re.search(r'aria-labelledby="job-activity">(.*?)</section>', body, re.S)
    assert match, "the job page has no Activity card"
    return match.group(1)


def test_the_job_page_lists_the_jobs_activity_newest_first(owner_client, job):
    for status in ("cancelled", "requested"):
        response = owner_client.post(
            reverse("dashboard:job_status", args=[job.public_id]), {"status": status}
        )
        assert response.status_code in {200, 302}
    card = _activity_card(owner_client.get(job.get_absolute_url()).content.decode())
    items = re.findall(r"<li>.*?</li>", card, re.S)
    assert len(items) >= 2, card
    assert "moved job" in items[0] and "Requested" in items[0] and "Olivia" in items[0]
    assert "moved job" in items[1] and "Cancelled" in items[1]
    assert "Nothing has happened here yet" not in card


def test_a_job_with_no_activity_says_so(owner_client, job):
    card = _activity_card(owner_client.get(job.get_absolute_url()).content.decode())
    assert "Nothing has happened here yet" in card
