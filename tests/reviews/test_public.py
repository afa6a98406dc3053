"""The customer's review pages: /r/<token>/ and /r/<token>/go/. Same answer for every token
that opens nothing, no write during a GET (openings and clicks are handed to tasks), the
referrer kept from Google, and a constant number of queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crewcommand.models import Activity
from reviews import services
from reviews.models import ReviewRequest
from tests.factories import CustomerFactory
from tests.portal.test_invalid_links import _normalized
from tests.portal.test_near_misses_of_a_live_token_find_nothing import near_misses

pytestmark = pytest.mark.django_db

GOOGLE = "https://search.google.example/local/writereview?placeid=abc"


@pytest.fixture
def link(customer):
    customer.company.google_review_url = GOOGLE
    customer.company.save(update_fields=["google_review_url"])
    url = services.review_link_for(customer=customer)
    return re.search(r"/r/[^/]+/$", url).group(0)


def _counts(customer) -> tuple:
    request = ReviewRequest.objects.get(customer=customer)
    return request.open_count, request.click_count


def test_the_landing_page_thanks_and_links_to_our_click_counter(client, link, customer):
    response = client.get(link)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Thanks for choosing Maple Plumbing!" in body
    assert f'href="{link}go/"' in body
    assert GOOGLE not in body  # only through the counter
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"
    assert "noindex" in response["X-Robots-Tag"]


def test_a_get_writes_nothing_itself_the_click_task_records_after_commit(
    client, link, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.get(f"{link}go/")
    assert _counts(customer) == (0, 0)  # nothing written by the request itself
    assert len(callbacks) == 1
    callbacks[0]()
    assert _counts(customer) == (0, 1)


def test_with_tasks_inline_openings_are_counted_at_once(client, link, customer):
    """The embedded default (no worker): the opening's flush runs as the page is served, so
    the dashboard shows it at once; one "opened" row on the timeline, however many openings."""
    for _ in range(3):
        assert client.get(link).status_code == 200
    request = ReviewRequest.objects.get(customer=customer)
    assert request.open_count == 3
    assert request.first_opened_at <= request.last_opened_at
    assert Activity.objects.filter(verb="review_request.opened").count() == 1


def test_go_records_the_click_and_redirects_to_google_without_the_token(
    client, link, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"{link}go/")
    assert response.status_code == 302
    assert response["Location"] == GOOGLE
    assert response["Referrer-Policy"] in {"origin", "no-referrer"}
    assert _counts(customer) == (0, 1)
    request = ReviewRequest.objects.get(customer=customer)
    assert request.first_clicked_at is not None and request.first_opened_at is not None


def test_prefetches_and_head_requests_record_nothing(client, link, customer):
    client.head(link)
    client.get(link, headers={"Sec-Purpose": "prefetch"})
    client.get(f"{link}go/", headers={"Sec-Purpose": "prefetch"})
    assert _counts(customer) == (0, 0)


def test_without_a_google_link_the_page_thanks_without_a_button(client, link, customer):
    customer.company.google_review_url = ""
    customer.company.save(update_fields=["google_review_url"])
    body = client.get(link).content.decode()
    assert "Thanks for choosing" in body
    assert "Leave a review on Google" not in body
    response = client.get(f"{link}go/")
    assert response.status_code == 302 and response["Location"] == link
    assert _counts(customer)[1] == 0


def test_unknown_and_near_miss_tokens_get_one_answer_that_names_nothing(link, settings):
    settings.PORTAL_INVALID_LINK_LIMIT = 10_000
    token = link.split("/")[2]
    reference = _normalized(Client().get("/r/" + "x" * 43 + "/"))
    assert reference[0] == 404
    assert "Maple Plumbing" not in reference[-1]
    assert reference[1]["Referrer-Policy"] == "no-referrer"
    for name, miss in near_misses(token).items():
        assert _normalized(Client().get(f"/r/{miss}/")) == reference, name
        assert Client().get(f"/r/{miss}/go/").status_code == 404, name
    for junk in ("%00", "a" * 500, "..", "%2e%2e"):
        assert Client().get(f"/r/{junk}/").status_code == 404, junk


def test_many_misses_from_one_address_are_slowed_down(settings, link):
    settings.PORTAL_INVALID_LINK_LIMIT = 3
    answers = [Client().get("/r/" + "y" * 43 + "/").status_code for _ in range(5)]
    assert answers == [404, 404, 404, 429, 429]
    assert Client().get(link).status_code == 200  # a real link keeps working


def test_the_landing_page_runs_the_same_queries_whatever_the_company_size(client, link, company):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(link).status_code == 200
        return len(captured)

    def page_alone() -> int:  # a prefetch: the page without handing the opening to the task
        with CaptureQueriesContext(connection) as captured:
            client.get(link, headers={"Sec-Purpose": "prefetch"})
        return len(captured)

    queries()  # the first opening also writes the "opened" row on the timeline (inline)
    small = queries()
    assert page_alone() == 1
    for _ in range(30):
        services.review_link_for(customer=CustomerFactory(company=company))
    assert queries() == small
    assert page_alone() == 1


def test_every_answer_under_r_is_private_and_none_redirects_with_the_token(link):
    token = link.split("/")[2]
    answers = {
        "page": Client().get(link),
        "page without slash": Client().get(link.rstrip("/")),
        "go without slash": Client().get(f"{link}go"),
        "post": Client().post(link),
        "post to go": Client().post(f"{link}go/"),
        "unknown": Client().get("/r/" + "z" * 43 + "/"),
        "unknown without slash": Client().get("/r/" + "z" * 43),
    }
    assert answers["page without slash"].status_code == 200
    assert answers["post"].status_code == 405
    for name, response in answers.items():
        assert response["Cache-Control"] == "no-store", name
        assert "noindex" in response["X-Robots-Tag"], name
        location = response.get("Location", "")
        assert token not in location or location.startswith("/r/"), name
        if location != GOOGLE:
            assert response["Referrer-Policy"] == "no-referrer", name
    assert answers["go without slash"]["Location"] == GOOGLE
    assert answers["go without slash"]["Referrer-Policy"] == "origin"


def test_private_feedback_sits_beside_the_google_button_and_reaches_the_company(
    client, link, customer
):
    feedback = f"{link}feedback/"
    assert f'href="{feedback}"' in client.get(link).content.decode()
    page = client.get(feedback)
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "same-origin"  # its form must post with our Origin
    assert f'href="{link}go/"' in page.content.decode()  # Google is still one tap away
    response = client.post(feedback, {"message": "The tech left mud on the carpet."})
    assert "feedback-sent" in response.content.decode()
    assert f'href="{link}go/"' in response.content.decode()
    request = ReviewRequest.objects.get(customer=customer)
    assert request.feedback == "The tech left mud on the carpet."


def test_bad_feedback_changes_nothing_and_floods_are_capped(client, link, customer):
    feedback = f"{link}feedback/"
    for bad in ("", "   ", "a\x00b", "x" * 5000):
        response = client.post(feedback, {"message": bad})
        assert response.status_code == 200
        assert 'class="form-errors"' in response.content.decode(), bad
    assert ReviewRequest.objects.get(customer=customer).feedback == ""
    for i in range(8):
        client.post(feedback, {"message": f"message {i}"})
    assert ReviewRequest.objects.get(customer=customer).feedback == "message 4"
    assert Client().post("/r/" + "q" * 43 + "/feedback/", {"message": "hi"}).status_code == 404


def test_the_review_page_is_in_the_customers_language(client, link, customer):
    customer.language = "fr-ca"
    customer.save(update_fields=["language"])
    response = client.get(link, HTTP_ACCEPT_LANGUAGE="en-CA")
    body = response.content.decode()
    assert response["Content-Language"] == "fr-ca" and '<html lang="fr-ca">' in body
    assert "Merci d\u2019avoir choisi Maple Plumbing!" in body
    assert "Laisser un avis sur Google" in body
