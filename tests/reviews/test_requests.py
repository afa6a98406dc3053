"""Review requests: the link (256 bits, stored only as a hash, re-derived to be reused), the
throttle (once per customer per N days, never after a click, never to an opted-out customer),
and the email."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.messaging.consent import record_consent
from crewcommand.models import Activity
from reviews import services
from reviews.models import ReviewRequest, ReviewSettings
from reviews.selectors import eligibility
from reviews.tokens import token_hash
from tests.factories import CustomerFactory, JobFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """``review_request_send``, then what it queued after commit (the outbox task). A review
    request is a commercial message (CASL): the customer has consented to email here; the
    outbox's own tests cover the blocked case."""

    def call(**kwargs) -> ReviewRequest:
        record_consent(customer=kwargs["customer"], channel="email", kind="express", source="test")
        with django_capture_on_commit_callbacks(execute=True):
            return services.review_request_send(**kwargs)

    return call


def _token(url: str) -> str:
    match = re.search(r"/r/([^/]+)/$", url)
    assert match, url
    return match.group(1)


def _age(request: ReviewRequest, days: int) -> None:
    """Move a request (and its sending) ``days`` into the past."""
    past = timezone.now() - dt.timedelta(days=days)
    ReviewRequest.objects.filter(pk=request.pk).update(
        created_at=past, sent_at=past if request.sent_at else None
    )


def test_a_review_link_is_absolute_from_site_url_and_its_token_is_stored_only_hashed(
    customer, settings
):
    settings.SITE_URL = "https://app.crewcommand.example"
    url = services.review_link_for(customer=customer)
    assert url.startswith("https://app.crewcommand.example/r/")
    token = _token(url)
    assert len(token) == 43  # 256 bits in URL-safe base64
    request = ReviewRequest.objects.get(customer=customer)
    assert request.token_hash == token_hash(token)
    stored = [str(v) for v in ReviewRequest.objects.filter(pk=request.pk).values().get().values()]
    assert token not in "|".join(stored)


def test_the_link_is_reused_inside_the_window_and_renewed_after_it(customer):
    first = services.review_link_for(customer=customer)
    assert services.review_link_for(customer=customer) == first
    assert ReviewRequest.objects.filter(customer=customer).count() == 1
    _age(ReviewRequest.objects.get(customer=customer), 91)
    second = services.review_link_for(customer=customer)
    assert second != first
    assert ReviewRequest.objects.filter(customer=customer).count() == 2


def test_a_customer_who_clicked_keeps_the_same_link_for_good(customer):
    url = services.review_link_for(customer=customer)
    request = ReviewRequest.objects.get(customer=customer)
    services.review_record_click(request_id=request.pk, at=timezone.now())
    _age(request, 400)
    assert services.review_link_for(customer=customer) == url
    assert ReviewRequest.objects.filter(customer=customer).count() == 1


def test_different_customers_get_different_links(company):
    a, b = CustomerFactory(company=company), CustomerFactory(company=company)
    assert services.review_link_for(customer=a) != services.review_link_for(customer=b)


def test_a_rotated_secret_key_reissues_the_link_on_the_next_send(customer, settings):
    old = services.review_link_for(customer=customer)
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789abcdef"
    new = services.review_link_for(customer=customer)
    assert new != old
    request = ReviewRequest.objects.get(customer=customer)
    assert request.token_hash == token_hash(_token(new))


def test_sending_emails_the_link_once_per_window(owner, customer, job, send):
    actor = Actor.member(owner.user)
    request = send(customer=customer, job=job, actor=actor)
    (message,) = mail.outbox
    assert message.to == [customer.email]
    assert "Thanks for choosing Maple Plumbing" in message.subject
    url = services.review_link_for(customer=customer)
    assert url in message.body
    assert request.send_count == 1 and request.job == job
    with pytest.raises(ServiceError, match="Already asked on"):
        send(customer=customer, actor=actor)
    assert len(mail.outbox) == 1
    assert Activity.objects.filter(verb="review_request.sent").count() == 1


def test_the_company_sets_the_window(owner, customer, send):
    actor = Actor.member(owner.user)
    ReviewSettings.objects.create(company=owner.company, request_every_days=7)
    request = send(customer=customer, actor=actor)
    _age(request, 8)
    send(customer=customer, actor=actor)
    assert len(mail.outbox) == 2
    assert ReviewRequest.objects.filter(customer=customer).count() == 2


def test_no_request_after_the_customer_clicked(owner, customer, send):
    actor = Actor.member(owner.user)
    request = send(customer=customer, actor=actor)
    services.review_record_click(request_id=request.pk, at=timezone.now())
    _age(request, 1000)
    with pytest.raises(ServiceError, match="already followed"):
        send(customer=customer, actor=actor)
    assert len(mail.outbox) == 1


def test_no_request_to_a_customer_who_opted_out(owner, customer, send):
    actor = Actor.member(owner.user)
    services.review_opt_out_set(customer=customer, opted_out=True, actor=actor)
    assert not eligibility(customer=customer).ok
    with pytest.raises(ServiceError, match="asked not to be asked"):
        send(customer=customer, actor=actor)
    with pytest.raises(ServiceError):
        services.review_link_for(customer=customer)
    services.review_opt_out_set(customer=customer, opted_out=False, actor=actor)
    send(customer=customer, actor=actor)
    assert len(mail.outbox) == 1


def test_no_email_without_an_address_or_to_one_that_opted_out_of_email(owner, company, send):
    actor = Actor.member(owner.user)
    nobody = CustomerFactory(company=company, email="")
    with pytest.raises(ServiceError, match="email address"):
        send(customer=nobody, actor=actor)
    quiet = CustomerFactory(company=company, email_opted_out_at=timezone.now())
    with pytest.raises(ServiceError, match="opted out of email"):
        send(customer=quiet, actor=actor)
    assert mail.outbox == []
    assert not ReviewRequest.objects.exists()


def test_a_job_of_another_customer_is_refused(owner, customer, company, send):
    other_job = JobFactory(customer=CustomerFactory(company=company))
    with pytest.raises(ServiceError):
        send(customer=customer, job=other_job, actor=Actor.member(owner.user))


def test_opens_and_clicks_are_counted_with_first_and_last_times(customer):
    services.review_link_for(customer=customer)
    request = ReviewRequest.objects.get(customer=customer)
    t1 = timezone.now()
    t2 = t1 + dt.timedelta(minutes=5)
    services.review_record_open(request_id=request.pk, at=t1)
    services.review_record_click(request_id=request.pk, at=t1)
    services.review_record_click(request_id=request.pk, at=t2)
    request.refresh_from_db()
    assert (request.open_count, request.first_opened_at) == (1, t1)
    assert (request.click_count, request.first_clicked_at, request.last_clicked_at) == (2, t1, t2)
    # One timeline row for the first opening and one for the first click, not one per visit.
    assert Activity.objects.filter(verb="review_request.clicked").count() == 1
    assert Activity.objects.filter(verb="review_request.opened").count() == 1


def test_a_request_sent_late_in_its_window_still_holds_the_next_one_back(owner, customer, send):
    """Made on day 0 (a {review_link} preview), sent on day 80: day 91 is too early to ask
    again, and the link stays the same."""
    actor = Actor.member(owner.user)
    url = services.review_link_for(customer=customer)
    request = ReviewRequest.objects.get(customer=customer)
    ReviewRequest.objects.filter(pk=request.pk).update(
        created_at=timezone.now() - dt.timedelta(days=91),
        sent_at=timezone.now() - dt.timedelta(days=11),
        send_count=1,
    )
    assert services.review_link_for(customer=customer) == url
    with pytest.raises(ServiceError, match="Already asked on"):
        send(customer=customer, actor=actor)
    assert ReviewRequest.objects.filter(customer=customer).count() == 1


def test_a_click_on_an_older_request_ends_the_asking(owner, customer, send):
    actor = Actor.member(owner.user)
    first = send(customer=customer, actor=actor)
    services.review_record_click(request_id=first.pk, at=timezone.now())
    ReviewRequest.objects.create(
        company=customer.company,
        customer=customer,
        token_nonce="0" * 32,
        token_hash="0" * 64,
    )
    with pytest.raises(ServiceError, match="already followed"):
        send(customer=customer, actor=actor)
