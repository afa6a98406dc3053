"""Demo data hook (``seed_demo``): review requests for two demo customers, and a review link
printed as ``review: <url>``.

Idempotent: review links are re-derived from their row (``reviews.tokens``), so every run
prints the same working link for as long as its request stands. One customer has been asked
and has clicked through (so the dashboard has figures); the other has been asked and has only
opened the link, which is the one printed.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from crewcommand.models import Company, Customer, Job
from reviews.models import ReviewRequest
from reviews.services import review_link_for

CLICKED = "Bob Singh"
PRINTED = "Dev Patel"


def _seed_one(company: Company, name: str, *, days_ago: int, clicked: bool) -> str | None:
    customer = Customer.objects.filter(company=company, name=name).first()
    if customer is None:
        return None
    job = Job.objects.filter(company=company, customer=customer).first()
    url = review_link_for(customer=customer, job=job)
    request = ReviewRequest.objects.filter(customer=customer).order_by("-created_at").first()
    if request is not None and request.sent_at is None:
        when = timezone.now() - dt.timedelta(days=days_ago)
        ReviewRequest.objects.filter(pk=request.pk).update(
            sent_at=when,
            sent_to=customer.email,
            send_count=1,
            first_opened_at=when + dt.timedelta(hours=2),
            last_opened_at=when + dt.timedelta(hours=2),
            open_count=1,
            first_clicked_at=when + dt.timedelta(hours=2, minutes=1) if clicked else None,
            last_clicked_at=when + dt.timedelta(hours=2, minutes=1) if clicked else None,
            click_count=1 if clicked else 0,
        )
    return url


def seed_review_requests(*, company: Company, stdout) -> None:
    _seed_one(company, CLICKED, days_ago=10, clicked=True)
    url = _seed_one(company, PRINTED, days_ago=2, clicked=False)
    if url:
        stdout.write(f"review: {url}")
