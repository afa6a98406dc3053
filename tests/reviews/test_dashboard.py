"""The contractor's side: the review requests page (figures overall and per customer, the
warning without a Google link), the panel on customer and job pages, sending, opting out and
the throttle setting."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from crewcommand.lib.activity import Actor
from crewcommand.messaging.consent import record_consent
from reviews import services
from reviews.models import ReviewOptOut, ReviewRequest, ReviewSettings
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LIST = reverse("reviews_dashboard:review_list")


def _sent_and_clicked(owner, customers, clicked: int) -> None:
    for index, customer in enumerate(customers):
        request = services.review_request_send(customer=customer, actor=Actor.member(owner.user))
        services.review_record_open(request_id=request.pk, at=timezone.now())
        if index < clicked:
            services.review_record_click(request_id=request.pk, at=timezone.now())


def test_the_page_shows_sent_opened_clicked_and_the_click_rate(owner, owner_client, company):
    customers = [CustomerFactory(company=company) for _ in range(4)]
    _sent_and_clicked(owner, customers, clicked=1)
    body = owner_client.get(LIST).content.decode()
    assert 'id="total-sent">4<' in body
    assert 'id="total-opened">4<' in body
    assert 'id="total-clicked">1<' in body
    assert 'id="click-rate">25 %<' in body
    for customer in customers:
        assert customer.name in body


def test_the_page_runs_the_same_queries_for_3_or_30_customers(
    owner, owner_client, company, django_assert_max_num_queries
):
    _sent_and_clicked(owner, [CustomerFactory(company=company) for _ in range(3)], clicked=1)
    with django_assert_max_num_queries(12) as few:
        owner_client.get(LIST)
    _sent_and_clicked(owner, [CustomerFactory(company=company) for _ in range(27)], clicked=5)
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(LIST)


def test_without_a_google_link_the_page_warns_and_links_to_settings(owner_client, company):
    company.google_review_url = ""
    company.save(update_fields=["google_review_url"])
    body = owner_client.get(LIST).content.decode()
    assert 'id="no-google-url"' in body
    assert reverse("dashboard:settings") in body
    company.google_review_url = "https://g.page/r/example/review"
    company.save(update_fields=["google_review_url"])
    assert 'id="no-google-url"' not in owner_client.get(LIST).content.decode()


def test_another_companys_figures_never_show(owner, outsider_client, company):
    _sent_and_clicked(owner, [CustomerFactory(company=company, name="Zed Hidden")], clicked=1)
    body = outsider_client.get(LIST).content.decode()
    assert "Zed Hidden" not in body
    assert 'id="total-sent">0<' in body


def test_the_customer_panel_sends_a_request_then_shows_the_throttle(
    office_client, customer, django_capture_on_commit_callbacks
):
    panel = reverse("reviews_dashboard:customer_panel", args=[customer.public_id])
    assert "Ask for a review by email" in office_client.get(panel).content.decode()
    send = reverse("reviews_dashboard:customer_send", args=[customer.public_id])
    # A review request is commercial (CASL): sent only with the customer's consent.
    record_consent(customer=customer, channel="email", kind="express", source="test")
    with django_capture_on_commit_callbacks(execute=True):
        response = office_client.post(send)
    assert response.status_code == 302 and response["Location"] == customer.get_absolute_url()
    assert len(mail.outbox) == 1
    body = office_client.get(panel).content.decode()
    assert "Ask for a review by email" not in body
    assert "Already asked on" in body
    response = office_client.post(send)
    assert response.status_code == 200
    assert 'class="form-errors"' in response.content.decode()
    assert "Already asked on" in response.content.decode()
    assert ReviewRequest.objects.get(customer=customer).send_count == 1


def test_the_job_panel_ties_the_request_to_the_job(office_client, job):
    office_client.post(reverse("reviews_dashboard:job_send", args=[job.public_id]))
    assert ReviewRequest.objects.get(customer=job.customer).job == job
    body = office_client.get(reverse("reviews_dashboard:job_panel", args=[job.public_id]))
    assert "Last asked" in body.content.decode()


def test_opting_out_and_back_in(office_client, customer):
    url = reverse("reviews_dashboard:customer_opt_out", args=[customer.public_id])
    office_client.post(url, {"opted_out": "1"})
    assert ReviewOptOut.objects.filter(customer=customer).exists()
    panel = reverse("reviews_dashboard:customer_panel", args=[customer.public_id])
    assert "asked not to be asked" in office_client.get(panel).content.decode()
    office_client.post(url, {"opted_out": "0"})
    assert not ReviewOptOut.objects.filter(customer=customer).exists()
    refused = office_client.post(url, {"opted_out": "<script>"})
    assert 'class="form-errors"' in refused.content.decode()
    assert not ReviewOptOut.objects.filter(customer=customer).exists()


def test_the_owner_sets_the_window_and_bad_values_change_nothing(owner_client, company):
    url = reverse("reviews_dashboard:review_settings")
    assert owner_client.get(url).status_code == 200
    for bad in ("0", "-3", "99999", "abc", ""):
        response = owner_client.post(url, {"request_every_days": bad})
        assert response.status_code == 200
        assert 'class="form-errors"' in response.content.decode(), bad
    assert not ReviewSettings.objects.exists()
    response = owner_client.post(url, {"request_every_days": "30"})
    assert response.status_code == 302
    assert ReviewSettings.objects.get(company=company).request_every_days == 30


def test_customer_and_job_pages_show_the_review_panel(owner_client, customer, job):
    for url in (customer.get_absolute_url(), job.get_absolute_url()):
        body = owner_client.get(url).content.decode()
        assert 'id="reviews-panel"' in body, url
        assert "Ask for a review by email" in body, url
