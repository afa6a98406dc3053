from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from crewcommand.models import Job, JobStatus
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db


def _post(client, the_customer, **extra):
    data = {
        "customer": the_customer.public_id,
        "title": "Install heat pump",
        "description": "",
        "address": "",
        "status": "requested",
        **extra,
    }
    return client.post(reverse("dashboard:job_create"), data)


def test_job_with_a_window_is_scheduled_in_the_company_time_zone(owner_client, customer, owner):
    response = _post(
        owner_client,
        customer,
        date="2026-12-03",
        start_time="09:00",
        end_time="11:30",
        assigned=[owner.public_id],
    )
    job = Job.objects.get()
    assert response.status_code == 302
    assert job.status == JobStatus.SCHEDULED
    assert job.scheduled_start == dt.datetime(2026, 12, 3, 14, 0, tzinfo=dt.UTC)  # 09:00 EST
    assert job.scheduled_end - job.scheduled_start == dt.timedelta(hours=2, minutes=30)
    assert list(job.assigned.all()) == [owner]
    assert job.address == customer.address


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"date": "2026-12-03", "start_time": "11:00", "end_time": "09:00"},
            "end time must be after",
        ),
        ({"start_time": "09:00"}, "Pick a date"),
        ({"date": "2026-12-03"}, "Enter a start time"),
        ({"date": "not-a-date", "start_time": "09:00"}, "Enter a valid date"),
        ({"date": "1066-10-14", "start_time": "09:00"}, "between 2000 and 2100"),
        ({"status": "scheduled"}, "needs a date"),
        ({"status": "exploded"}, "valid choice"),
        ({"title": ""}, "This field is required"),
        ({"customer": "zzzzzzzzzzzzzz"}, "Select a valid choice"),
    ],
)
def test_bad_job_input_is_refused_with_a_message(owner_client, customer, extra, message):
    response = _post(owner_client, customer, **extra)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_status_change_with_htmx_returns_the_status_fragment(owner_client, job):
    response = owner_client.post(
        reverse("dashboard:job_status", args=[job.public_id]),
        {"status": "cancelled"},
        headers={"HX-Request": "true"},
    )
    job.refresh_from_db()
    body = response.content.decode()
    assert job.status == JobStatus.CANCELLED
    assert 'id="job-status"' in body and "badge-cancelled" in body
    assert "toast" in body  # flash message delivered out of band


def test_completing_a_job_stamps_completed_at(owner_client, job):
    owner_client.post(
        reverse("dashboard:job_status", args=[job.public_id]), {"status": "completed"}
    )
    job.refresh_from_db()
    assert job.completed_at is not None


@pytest.mark.parametrize("status", ["scheduled", "in_progress"])
def test_a_job_without_a_date_cannot_be_scheduled_or_started(owner_client, job, status):
    response = owner_client.post(
        reverse("dashboard:job_status", args=[job.public_id]), {"status": status}, follow=True
    )
    job.refresh_from_db()
    assert job.status == JobStatus.REQUESTED
    assert "Give the job a date" in response.content.decode()


def test_invalid_status_changes_nothing(owner_client, job):
    owner_client.post(reverse("dashboard:job_status", args=[job.public_id]), {"status": "nope"})
    job.refresh_from_db()
    assert job.status == JobStatus.REQUESTED


def test_job_list_filters_by_status_with_constant_queries(
    owner_client, owner, customer, django_assert_max_num_queries
):
    JobFactory(customer=customer, title="Done one", status=JobStatus.COMPLETED)
    JobFactory(customer=customer, title="Open one").assigned.set([owner])
    body = owner_client.get(reverse("dashboard:job_list"), {"status": "completed"}).content.decode()
    assert "Done one" in body and "Open one" not in body
    with django_assert_max_num_queries(9) as few:
        owner_client.get(reverse("dashboard:job_list"))
    for new_job in JobFactory.create_batch(30, customer=customer):
        new_job.assigned.set([owner])  # crew names are read per row: they must be prefetched
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(reverse("dashboard:job_list"))


def test_job_detail_shows_activity(owner_client, job, customer):
    owner_client.post(
        reverse("dashboard:job_status", args=[job.public_id]), {"status": "cancelled"}
    )
    body = owner_client.get(job.get_absolute_url()).content.decode()
    assert "Cancelled" in body
    assert customer.name in body


def test_job_list_shows_payment_status(owner_client, owner, customer, job):
    from crewcommand.lib.activity import Actor
    from documents import services
    from tests.factories import LineItemFactory

    actor = Actor.member(owner.user)
    invoice = services.invoice_create(
        company=owner.company, customer=customer, job=job, actor=actor
    )
    LineItemFactory(doc=invoice, actor=actor)
    body = owner_client.get(reverse("dashboard:job_list")).content.decode()
    assert "Not invoiced" in body  # a draft invoice is not billed yet
    services.invoice_send(invoice=invoice, actor=actor)
    body = owner_client.get(reverse("dashboard:job_list")).content.decode()
    assert "Unpaid" in body
