"""Every change to review requests. Keyword-only, one transaction, an activity row; a broken
rule raises ``ServiceError`` with a message safe to show.

The throttle: at most one review request per customer per ``request_every_days`` (the
company's ``ReviewSettings``, 90 days by default); none once the customer has followed a link
to Google; none to a customer who opted out (``ReviewOptOut``), and no review email to one who
opted out of email (``Customer.email_opted_out_at``).
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from crewcommand.errors import ServiceError
from crewcommand.lib import activity, variables
from crewcommand.lib.activity import Actor
from crewcommand.models import Company, Customer, Job
from reviews import notifications
from reviews.models import ReviewOptOut, ReviewRequest, ReviewSettings
from reviews.selectors import eligibility, latest_request, request_every_days
from reviews.tokens import derive_token, new_nonce, review_url, token_hash


def token_for(request: ReviewRequest) -> str:
    return derive_token(nonce=request.token_nonce)


def url_for(request: ReviewRequest) -> str:
    """The absolute link, from ``SITE_URL`` (never the request's Host header)."""
    return review_url(nonce=request.token_nonce)


def _create(*, customer: Customer, job: Job | None, actor: Actor) -> ReviewRequest:
    for _attempt in range(4):
        nonce = new_nonce()
        try:
            with transaction.atomic():
                request = ReviewRequest.objects.create(
                    company=customer.company,
                    customer=customer,
                    job=job,
                    token_nonce=nonce,
                    token_hash=token_hash(derive_token(nonce=nonce)),
                    created_by=actor.user if actor.kind == "member" else None,
                )
            break
        except IntegrityError:  # 128 random bits collided: draw again
            continue
    else:
        raise ServiceError(_("Could not create a review link. Please try again."))
    activity.record_about(customer, "review_request.created", actor, data={})
    return request


def _current(*, customer: Customer, job: Job | None, actor: Actor) -> ReviewRequest:
    """The customer's request for this window, made if there is none. Caller holds the
    customer's row lock."""
    latest = latest_request(customer)
    if latest is not None and latest.in_window(
        timezone.now(), request_every_days(customer.company)
    ):
        if latest.token_hash != token_hash(token_for(latest)):
            # SECRET_KEY was rotated: the stored hash no longer matches what we derive.
            latest.token_nonce = new_nonce()
            latest.token_hash = token_hash(token_for(latest))
            latest.save(update_fields=["token_nonce", "token_hash", "updated_at"])
        if job is not None and latest.job_id is None:
            latest.job = job
            latest.save(update_fields=["job", "updated_at"])
        return latest
    return _create(customer=customer, job=job, actor=actor)


def _check_job(customer: Customer, job: Job | None) -> None:
    if job is not None and (
        job.company_id != customer.company_id or job.customer_id != customer.pk
    ):
        raise ServiceError(_("That job belongs to another customer."))


def _lock(customer: Customer) -> None:
    Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk").first()


@transaction.atomic
def review_link_for(
    *, customer: Customer, job: Job | None = None, actor: Actor | None = None
) -> str:
    """``{review_link}``: the absolute URL of the customer's review request, made or reused.

    Reuses the request of the current window (or the one the customer already clicked: they
    are never given a second one). Refuses a customer who opted out: a message about to carry
    the link should check ``eligibility`` first."""
    _check_job(customer, job)
    _lock(customer)
    if ReviewOptOut.objects.filter(customer=customer).exists():
        raise ServiceError(_("This customer asked not to be asked for reviews."))
    request = _current(customer=customer, job=job, actor=actor or Actor.system())
    return url_for(request)


@transaction.atomic
def review_request_send(
    *, customer: Customer, actor: Actor, job: Job | None = None
) -> ReviewRequest:
    """Email the customer their review link, if the throttle allows it (``eligibility``).
    The email goes out after commit; the task re-derives the link itself."""
    _check_job(customer, job)
    _lock(customer)
    verdict = eligibility(customer=customer)
    if not verdict.ok:
        raise ServiceError(verdict.reason)
    if not customer.email:
        raise ServiceError(_("Add the customer's email address first."))
    if customer.email_opted_out_at is not None:
        raise ServiceError(_("This customer opted out of email."))
    request = _current(customer=customer, job=job, actor=actor)
    request.sent_at = timezone.now()
    request.sent_to = customer.email[:254]
    request.send_count = F("send_count") + 1
    request.save(update_fields=["sent_at", "sent_to", "send_count", "updated_at"])
    request.refresh_from_db(fields=["send_count"])
    activity.record_about(
        job or customer,
        "review_request.sent",
        actor,
        customer=customer,
        data={"to": customer.email},
    )
    notifications.queue_request_email(request=request)
    return request


@transaction.atomic
def review_opt_out_set(*, customer: Customer, opted_out: bool, actor: Actor) -> None:
    """Record that the customer does (or no longer does) want review requests. Idempotent."""
    exists = ReviewOptOut.objects.filter(customer=customer).exists()
    if opted_out and not exists:
        ReviewOptOut.objects.create(
            company=customer.company, customer=customer, created_by=actor.user
        )
        activity.record_about(customer, "review_request.opted_out", actor)
    elif not opted_out and exists:
        ReviewOptOut.objects.filter(customer=customer).delete()
        activity.record_about(customer, "review_request.opted_in", actor)


@transaction.atomic
def review_settings_update(*, company: Company, request_every_days: int, actor: Actor) -> None:
    ReviewSettings.objects.update_or_create(
        company=company, defaults={"request_every_days": request_every_days}
    )
    activity.record(
        company=company,
        verb="review_settings.updated",
        actor=actor,
        data={"days": str(request_every_days)},
    )


def review_record_open(*, request_id: int, at: dt.datetime) -> None:
    """Count one opening of the landing page (a task queued before openings were counted in
    the cache; kept for messages still in the broker)."""
    review_record_opens(request_id=request_id, count=1, first=at, last=at)


@transaction.atomic
def review_record_opens(
    *, request_id: int, count: int, first: dt.datetime, last: dt.datetime
) -> None:
    """Add ``count`` openings of the landing page, the first at ``first`` and the last at
    ``last``: called by ``reviews.openings.flush`` with what the cache gathered (never by the
    GET itself, unless the cache is down). The first opening is set, or moved earlier (a click
    recorded meanwhile also counts as an opening), by a conditional UPDATE, which also decides
    the one "opened" row on the timeline; the count and the last opening in a second."""
    moved = (
        ReviewRequest.objects.filter(pk=request_id)
        .filter(Q(first_opened_at__isnull=True) | Q(first_opened_at__gt=first))
        .update(first_opened_at=first)
    )
    ReviewRequest.objects.filter(pk=request_id).update(
        open_count=F("open_count") + count,
        last_opened_at=Greatest(Coalesce("last_opened_at", last), last),
    )
    if moved:
        request = ReviewRequest.objects.select_related("customer").get(pk=request_id)
        activity.record_about(
            request.customer, "review_request.opened", Actor.customer(request.customer.name)
        )


@transaction.atomic
def review_record_click(*, request_id: int, at: dt.datetime) -> None:
    """Count one click through to Google (run by a task). A click is also an opening, in case
    the opening's own task was lost."""
    updated = ReviewRequest.objects.filter(pk=request_id).update(
        first_clicked_at=Coalesce("first_clicked_at", at),
        last_clicked_at=at,
        click_count=F("click_count") + 1,
        first_opened_at=Coalesce("first_opened_at", at),
        last_opened_at=Coalesce("last_opened_at", at),
    )
    if updated:
        _record_first(request_id, "first_clicked_at", at, "review_request.clicked")


def _record_first(request_id: int, field: str, at: dt.datetime, verb: str) -> None:
    """One activity row per request for its first opening and its first click, not one per
    visit (a customer who reloads the page does not fill the timeline)."""
    request = ReviewRequest.objects.select_related("customer", "company").get(pk=request_id)
    if getattr(request, field) == at:
        name = request.customer.name
        activity.record_about(request.customer, verb, Actor.customer(name))


@transaction.atomic
def review_feedback_record(*, request: ReviewRequest, message: str) -> None:
    """Keep the customer's private note (the latest one) and put it on the timeline."""
    locked = ReviewRequest.objects.select_for_update().select_related("customer").get(pk=request.pk)
    locked.feedback = message[:2000]
    locked.feedback_at = timezone.now()
    locked.save(update_fields=["feedback", "feedback_at", "updated_at"])
    activity.record_about(
        locked.customer, "review_request.feedback", Actor.customer(locked.customer.name)
    )


def review_link_variable(subject: variables.Subject) -> str:
    """``{review_link}`` in automated messages (registered in the core's variable registry):
    the customer's link if the throttle allows asking now (``eligibility``), counted as sent so
    the throttle sees it; ``Unavailable`` with the reason otherwise, and the message is not
    sent. A preview writes nothing and shows the link's shape."""
    if subject.customer is None:
        raise variables.Unavailable(_("There is no customer to ask for a review."))
    if subject.preview:
        return review_url(nonce="preview-link")
    verdict = eligibility(customer=subject.customer)
    if not verdict.ok:
        raise variables.Unavailable(verdict.reason)
    with transaction.atomic():
        _lock(subject.customer)
        request = _current(customer=subject.customer, job=subject.job, actor=Actor.system())
        request.sent_at = timezone.now()
        request.send_count = F("send_count") + 1
        request.save(update_fields=["sent_at", "send_count", "updated_at"])
    return url_for(request)
