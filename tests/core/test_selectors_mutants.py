"""The contractor's schedule and lists (``crewcommand.selectors``) as the pages show them:
written for the mutants the page tests left alive (``scripts/mutation selectors``)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from crewcommand.models import JobStatus
from tests.factories import CustomerFactory, JobFactory

pytestmark = pytest.mark.django_db

# Far enough west that a job late on a local evening is already the next day in UTC.
VANCOUVER = "America/Vancouver"


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zoneinfo.ZoneInfo(VANCOUVER))


def _job(customer, title, start, status=JobStatus.SCHEDULED):
    return JobFactory(
        customer=customer,
        title=title,
        status=status,
        scheduled_start=start,
        scheduled_end=start + dt.timedelta(hours=1),
    )


@pytest.fixture
def vancouver(company):
    company.timezone = VANCOUVER
    company.save()
    return company


def test_the_week_page_puts_each_job_on_its_local_day_monday_to_sunday(
    vancouver, owner_client, customer, outsider
):
    monday = dt.date(2026, 11, 23)
    sunday = monday + dt.timedelta(days=6)
    _job(customer, "Sunday late", _at(sunday, 23, 30))  # Monday in UTC
    _job(customer, "Monday noon", _at(monday, 12))
    _job(customer, "Monday midnight", _at(monday, 0))
    _job(customer, "Wednesday", _at(monday + dt.timedelta(days=2), 9))
    _job(customer, "Tuesday", _at(monday + dt.timedelta(days=1), 9))
    _job(customer, "Week before", _at(monday - dt.timedelta(days=1), 23, 59))
    _job(customer, "Week after", _at(monday + dt.timedelta(days=7), 0))
    _job(CustomerFactory(company=outsider.company), "Theirs", _at(monday, 10))

    response = owner_client.get(reverse("dashboard:job_week"), {"start": "2026-11-25"})

    days = [(day, [job.title for job in jobs]) for day, jobs in response.context["days"]]
    assert days == [
        (monday, ["Monday midnight", "Monday noon"]),
        (monday + dt.timedelta(days=1), ["Tuesday"]),
        (monday + dt.timedelta(days=2), ["Wednesday"]),
        (monday + dt.timedelta(days=3), []),
        (monday + dt.timedelta(days=4), []),
        (monday + dt.timedelta(days=5), []),
        (sunday, ["Sunday late"]),
    ]


def test_home_lists_todays_jobs_by_local_time_without_cancelled_ones(
    vancouver, owner_client, customer, outsider
):
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(VANCOUVER)).date()
    _job(customer, "Tonight", _at(today, 23, 30))
    _job(customer, "Morning", _at(today, 0))
    _job(customer, "Cancelled", _at(today, 10), JobStatus.CANCELLED)
    _job(customer, "Yesterday", _at(today - dt.timedelta(days=1), 23, 59))
    _job(customer, "Tomorrow", _at(today + dt.timedelta(days=1), 0))
    _job(CustomerFactory(company=outsider.company), "Theirs", _at(today, 10))

    response = owner_client.get(reverse("dashboard:home"))

    assert [job.title for job in response.context["today_jobs"]] == ["Morning", "Tonight"]
