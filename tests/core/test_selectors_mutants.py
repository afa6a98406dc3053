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


# --- The lists and reads of ``crewcommand.selectors``, called as the views call them ----------


def _ids(rows) -> list[int]:
    return [row.pk for row in rows]


def _tied(first, second, model, **fields):
    """Give two rows the same sort key, then rewrite the first row so PostgreSQL stores it after
    the second: only the tie-breaking column can put them back in id order."""
    model.objects.filter(pk__in=[first.pk, second.pk]).update(**fields)
    model.objects.filter(pk=first.pk).update(**fields)


def test_the_customer_list_searches_each_field_counts_jobs_and_keeps_to_the_company(
    company, outsider
):
    from crewcommand import selectors
    from crewcommand.models import Customer

    def make(name, email, phone, address, who=company):
        return CustomerFactory(
            company=who, name=name, email=email, phone=phone, address_line1=address
        )

    zed = make("Zed Alphonse", "zed@north.example", "604 555 0111", "1 Oak Street")
    bea = make("Bea Lind", "bea@south.example", "604 555 0222", "9 Elm Road")
    bea2 = make("Bea Lind", "lind@east.example", "604 555 0333", "4 Ash Lane")
    _tied(bea, bea2, Customer, name="Bea Lind")
    # Another company's customer matching every search below.
    make("Zed Alphonse", "bea@south.example", "604 555 0333", "9 Elm Road", outsider.company)
    JobFactory(customer=zed)
    JobFactory(customer=zed)
    JobFactory(customer=bea)

    rows = list(selectors.customer_list(company=company))
    assert _ids(rows) == [bea.pk, bea2.pk, zed.pk]  # by name, then by id
    assert {row.pk: row.job_count for row in rows} == {bea.pk: 1, bea2.pk: 0, zed.pk: 2}
    for query, expected in [
        ("alphon", [zed]),  # the name only
        ("south.exam", [bea]),  # the email only
        ("555 0333", [bea2]),  # the phone only
        ("9 Elm", [bea]),  # the address only
        ("", [bea, bea2, zed]),
    ]:
        found = selectors.customer_list(company=company, query=query)
        assert _ids(found) == _ids(expected), query


def test_a_customer_and_its_contacts_are_read_within_the_company_and_the_customer(
    company, outsider, customer
):
    from django.http import Http404

    from crewcommand import selectors
    from crewcommand.models import Contact

    primary = Contact.objects.get(customer=customer, is_primary=True)
    tenant = Contact.objects.create(
        company=company, customer=customer, name="Aaron Tenant", email="t@example.com"
    )
    gone = Contact.objects.create(
        company=company,
        customer=customer,
        name="Abe Gone",
        email="g@example.com",
        removed_at=timezone.now(),
    )
    neighbour = CustomerFactory(company=company, name="Neighbour")
    assert selectors.customer_get(company=company, public_id=customer.public_id) == customer
    assert selectors.customer_get(company=company, public_id=neighbour.public_id) == neighbour
    with pytest.raises(Http404):
        selectors.customer_get(company=outsider.company, public_id=customer.public_id)
    theirs = Contact.objects.create(
        company=company, customer=neighbour, name="Aaron Next Door", email="n@example.com"
    )

    assert selectors.customer_contacts(customer=customer) == [primary, tenant]
    get = selectors.contact_get
    assert get(customer=customer, public_id=tenant.public_id) == tenant
    for other in (gone, theirs):
        with pytest.raises(Http404):
            get(customer=customer, public_id=other.public_id)
    with pytest.raises(Http404):
        get(customer=neighbour, public_id=tenant.public_id)


def test_the_job_list_filters_by_status_and_search_newest_first_within_the_company(
    company, outsider
):
    from crewcommand import selectors
    from crewcommand.models import Job

    ana = CustomerFactory(company=company, name="Ana Furnace")
    ben = CustomerFactory(company=company, name="Ben Roof")
    later = JobFactory(customer=ana, title="Boiler service", status=JobStatus.SCHEDULED)
    first = JobFactory(customer=ben, title="Gutters", status=JobStatus.COMPLETED)
    second = JobFactory(customer=ben, title="Shingles", status=JobStatus.SCHEDULED)
    now = timezone.now()
    _tied(first, second, Job, created_at=now - dt.timedelta(hours=1))
    Job.objects.filter(pk=later.pk).update(created_at=now)
    theirs = CustomerFactory(company=outsider.company, name="Ana Boiler Roof")
    JobFactory(customer=theirs, title="Boiler Shingles Gutters", status=JobStatus.SCHEDULED)

    def titles(**kwargs):
        return [job.title for job in selectors.job_list(company=company, **kwargs)]

    assert titles() == ["Boiler service", "Shingles", "Gutters"]  # newest, then by id
    assert titles(status="scheduled") == ["Boiler service", "Shingles"]
    assert titles(status="completed") == ["Gutters"]
    assert titles(status="no-such-status") == ["Boiler service", "Shingles", "Gutters"]
    assert titles(query="boiler") == ["Boiler service"]  # the title
    assert titles(query="ben ro") == ["Shingles", "Gutters"]  # the customer's name
    assert titles(status="scheduled", query="ben") == ["Shingles"]


def test_the_job_list_and_a_job_bring_their_customer_and_crew_in_a_fixed_number_of_queries(
    company, outsider, django_assert_num_queries
):
    from django.http import Http404

    from crewcommand import selectors
    from tests.factories import MemberFactory

    crew = [MemberFactory(company=company), MemberFactory(company=company)]
    for n in range(3):
        job = JobFactory(customer=CustomerFactory(company=company, name=f"Customer {n}"))
        job.assigned.set(crew)

    # The jobs with their customers, the crew, the crew's users.
    with django_assert_num_queries(3):
        seen = [
            (j.customer.name, sorted(m.user.email for m in j.assigned.all()))
            for j in selectors.job_list(company=company)
        ]
    emails = sorted(m.user.email for m in crew)
    assert seen == [(f"Customer {n}", emails) for n in (2, 1, 0)]

    with django_assert_num_queries(3):
        got = selectors.job_get(company=company, public_id=job.public_id)
        assert got.customer.name == "Customer 2"
        assert sorted(m.user.email for m in got.assigned.all()) == emails
    with pytest.raises(Http404):
        selectors.job_get(company=outsider.company, public_id=job.public_id)


def test_the_team_page_reads_the_members_and_pending_invitations_of_the_company(
    owner, office, outsider, django_assert_num_queries
):
    from django.http import Http404

    from crewcommand import selectors
    from crewcommand.models import Invitation

    with django_assert_num_queries(1):
        members = [(m.pk, m.user.email) for m in selectors.member_list(company=owner.company)]
    assert sorted(members) == sorted([(owner.pk, owner.user.email), (office.pk, office.user.email)])

    def invite(email, company=owner.company, **fields):
        return Invitation.objects.create(company=company, email=email, **fields)

    pending = invite("new@example.com")
    accepted = invite("joined@example.com", accepted_at=timezone.now())
    revoked = invite("no@example.com", revoked_at=timezone.now())
    theirs = invite("rival@example.com", company=outsider.company)

    assert list(selectors.invitation_pending(company=owner.company)) == [pending]
    get = selectors.invitation_get
    assert get(company=owner.company, public_id=pending.public_id) == pending
    for company, invitation in [
        (owner.company, accepted),
        (owner.company, revoked),
        (owner.company, theirs),
        (outsider.company, pending),
    ]:
        with pytest.raises(Http404):
            get(company=company, public_id=invitation.public_id)


def _activities(company, n, *, target=None, customer=None, verb="job.updated"):
    from django.contrib.contenttypes.models import ContentType

    from crewcommand.models import Activity

    return [
        Activity.objects.create(
            company=company,
            actor_kind="system",
            verb=verb,
            target_type=ContentType.objects.get_for_model(target) if target else None,
            target_id=target.pk if target else None,
            customer=customer,
        )
        for _ in range(n)
    ]


def test_a_timeline_shows_the_latest_fifty_rows_about_its_job_or_customer(
    company, customer, outsider
):
    from django.contrib.contenttypes.models import ContentType

    from crewcommand import selectors
    from crewcommand.models import Activity

    job = JobFactory(customer=customer)
    other_job = JobFactory(customer=customer)
    about_job = _activities(company, 51, target=job, customer=customer)
    _activities(company, 2, target=other_job, customer=customer)
    # Another kind of row (a customer, say) whose id is the job's: not about the job.
    Activity.objects.create(
        company=company,
        actor_kind="system",
        verb="customer.updated",
        target_type=ContentType.objects.get_for_model(customer),
        target_id=job.pk,
    )
    newest = sorted(about_job, key=lambda a: (a.created_at, a.pk), reverse=True)

    assert _ids(selectors.activity_for(company=company, target=job)) == _ids(newest[:50])
    assert _ids(selectors.activity_for(company=company, target=job, limit=3)) == _ids(newest[:3])

    neighbour = CustomerFactory(company=company)
    _activities(company, 2, target=neighbour, customer=neighbour)
    _activities(outsider.company, 2)
    for_customer = selectors.activity_for_customer(customer=customer)
    assert len(for_customer) == 50
    assert {a.customer_id for a in for_customer} == {customer.pk}
    assert len(selectors.activity_for_customer(customer=customer, limit=60)) == 53


def test_the_homes_timeline_shows_the_companys_latest_ten_rows(company, outsider):
    from crewcommand import selectors

    ours = _activities(company, 12)
    _activities(outsider.company, 3)
    newest = sorted(ours, key=lambda a: (a.created_at, a.pk), reverse=True)

    assert _ids(selectors.activity_recent(company=company)) == _ids(newest[:10])
    assert _ids(selectors.activity_recent(company=company, limit=5)) == _ids(newest[:5])
    assert _ids(selectors.activity_recent(company=company, limit=20)) == _ids(newest)


def test_the_home_knows_whether_the_company_has_a_customer_of_its_own(company, outsider):
    from crewcommand import selectors

    CustomerFactory(company=outsider.company)
    assert selectors.has_customers(company=company) is False
    CustomerFactory(company=company)
    assert selectors.has_customers(company=company) is True
