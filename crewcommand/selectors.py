"""Reads for contractor pages. Every function takes the company and never returns another
company's rows; ``*_get`` answers 404 for anything outside it."""

from __future__ import annotations

import datetime as dt

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Model, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from crewcommand.lib.prepared import prepared
from crewcommand.lib.text import single_line
from crewcommand.models import (
    Activity,
    Company,
    Contact,
    Customer,
    Invitation,
    Job,
    JobStatus,
    Member,
)

MAX_QUERY_LENGTH = 100

# Placeholders the dashboard's reads are compiled with (``crewcommand.lib.prepared``): values
# no real query holds.
_COMPANY = -7_000_000_001
_START = dt.datetime(1001, 1, 1, tzinfo=dt.UTC)
_END = dt.datetime(1001, 1, 2, tzinfo=dt.UTC)


def clean_query(query: str | None) -> str:
    """The search box of every list page (``components/list_filters.html``), made one line: a
    NUL byte would make PostgreSQL refuse the query (a 500), so control characters go."""
    return single_line(query)[:MAX_QUERY_LENGTH].strip()


def customer_list(*, company: Company, query: str = "") -> QuerySet[Customer]:
    qs = Customer.objects.filter(company=company).annotate(job_count=Count("jobs"))
    if query := clean_query(query):
        qs = qs.filter(
            Q(name__icontains=query)
            | Q(email__icontains=query)
            | Q(phone__icontains=query)
            | Q(address_line1__icontains=query)
        )
    return qs.order_by("name", "id")


def customer_get(*, company: Company, public_id: str) -> Customer:
    return get_object_or_404(Customer, company=company, public_id=public_id)


def customer_contacts(*, customer: Customer) -> list[Contact]:
    """The customer's contacts on file, the primary one first."""
    return list(Contact.objects.filter(customer=customer, removed_at=None))


def contact_get(*, customer: Customer, public_id: str) -> Contact:
    """One of the customer's contacts on file; 404 for anyone else's (or a removed one)."""
    return get_object_or_404(
        Contact,
        company_id=customer.company_id,
        customer=customer,
        public_id=public_id,
        removed_at=None,
    )


def job_list(*, company: Company, status: str = "", query: str = "") -> QuerySet[Job]:
    qs = (
        Job.objects.filter(company=company)
        .select_related("customer")
        .prefetch_related("assigned__user")
    )
    if status in JobStatus.values:
        qs = qs.filter(status=status)
    if query := clean_query(query):
        qs = qs.filter(Q(title__icontains=query) | Q(customer__name__icontains=query))
    return qs.order_by("-created_at", "-id")


def job_get(*, company: Company, public_id: str) -> Job:
    return get_object_or_404(
        Job.objects.select_related("customer").prefetch_related("assigned__user"),
        company=company,
        public_id=public_id,
    )


_jobs_between = prepared(
    lambda company_id, start, end: (
        Job.objects.filter(
            company_id=company_id, scheduled_start__gte=start, scheduled_start__lt=end
        )
        .exclude(status=JobStatus.CANCELLED)
        .select_related("customer")
        .order_by("scheduled_start")
    ),
    _COMPANY,
    _START,
    _END,
)


def jobs_on_day(*, company: Company, day: dt.date) -> list[Job]:
    """The day's scheduled jobs (local day), cancelled ones left out, with their customer (one
    query, compiled once)."""
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return _jobs_between.all(company.pk, start, start + dt.timedelta(days=1))


def jobs_in_week(*, company: Company, monday: dt.date) -> list[tuple[dt.date, list[Job]]]:
    """The week's scheduled jobs, grouped by local day (one query)."""
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(monday, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time.min, tzinfo=tz)
    jobs = (
        job_list(company=company)
        .filter(scheduled_start__gte=start, scheduled_start__lt=end)
        .order_by("scheduled_start")
    )
    days: dict[dt.date, list[Job]] = {monday + dt.timedelta(days=i): [] for i in range(7)}
    for job in jobs:
        days[timezone.localtime(job.scheduled_start).date()].append(job)
    return list(days.items())


def member_list(*, company: Company) -> QuerySet[Member]:
    return Member.objects.filter(company=company).select_related("user")


def invitation_pending(*, company: Company) -> QuerySet[Invitation]:
    return Invitation.objects.filter(company=company, accepted_at=None, revoked_at=None)


def invitation_get(*, company: Company, public_id: str) -> Invitation:
    return get_object_or_404(
        Invitation, company=company, public_id=public_id, accepted_at=None, revoked_at=None
    )


def activity_for(*, company: Company, target: Model, limit: int = 50) -> list[Activity]:
    return list(
        Activity.objects.filter(
            company=company,
            target_type=ContentType.objects.get_for_model(target),
            target_id=target.pk,
        )[:limit]
    )


def activity_for_customer(*, customer: Customer, limit: int = 50) -> list[Activity]:
    return list(Activity.objects.filter(company=customer.company, customer=customer)[:limit])


_recent_activity = prepared(
    lambda company_id: Activity.objects.filter(company_id=company_id)[:10], _COMPANY
)


def activity_recent(*, company: Company, limit: int = 10) -> list[Activity]:
    if limit == 10:  # the home's timeline: compiled once
        return _recent_activity.all(company.pk)
    return list(Activity.objects.filter(company=company)[:limit])


_any_customer = prepared(
    lambda company_id: Customer.objects.filter(company_id=company_id).values_list("pk"), _COMPANY
)


def has_customers(*, company: Company) -> bool:
    return _any_customer.first(company.pk) is not None
