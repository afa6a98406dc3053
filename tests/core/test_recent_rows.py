"""The rows the booking page and the review landing page remember per process
(``crewcommand.lib.recent``, ``PUBLIC_ROW_SECONDS``): within the second a GET runs no query;
past it any change shows (rename, services, colours, Google link, the page turned off, the
company or the review request deleted), by whatever code path it was made; unknown slugs and
tokens are looked up every time; writes never use a remembered row; no token is kept raw."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from booking import selectors as booking_selectors
from booking.models import BookingSettings
from crewcommand.lib import recent
from crewcommand.models import Company
from reviews import selectors as review_selectors
from reviews import services as reviews
from reviews.models import ReviewRequest
from reviews.tokens import token_hash

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(settings, monkeypatch):
    """The remembered rows turned on (1 s, as in production) with a clock the test moves."""
    settings.PUBLIC_ROW_SECONDS = 1
    fake = Clock()
    monkeypatch.setattr(recent, "clock", fake)
    return fake


def _get(client: Client, url: str, **headers: str) -> tuple[int, str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers)
    return response.status_code, response.content.decode(), len(queries.captured_queries)


def _book(company) -> str:
    return reverse("booking_public:book", args=[company.slug])


def _plain(body: str) -> str:
    return re.sub(r"[A-Za-z0-9]{64}", "CSRF", body)


# --- Booking page ------------------------------------------------------------------------------


def test_a_booking_page_is_looked_up_once_a_second_and_changes_show_after_it(company, clock):
    BookingSettings.objects.create(company=company, services="Drain cleaning")
    client = Client()
    status, body, queries = _get(client, _book(company))
    assert (status, queries) == (200, 1)
    status, body, queries = _get(client, _book(company))
    assert (status, queries) == (200, 0)  # remembered: no query at all

    # Changes made by any path (a save, a queryset update) show once the second is over.
    Company.objects.filter(pk=company.pk).update(name="Birch Heating", brand_color="#123456")
    BookingSettings.objects.filter(company=company).update(services="Sump pumps")
    clock.now += 0.5
    assert "Birch Heating" not in _get(client, _book(company))[1]  # within the documented second
    clock.now += 0.6
    status, body, queries = _get(client, _book(company))
    assert (status, queries) == (200, 1)
    assert "Birch Heating" in body and '<option value="Sump pumps">' in body
    assert "#123456" in body


def test_a_booking_page_turned_off_or_a_company_deleted_is_a_404_after_the_second(company, clock):
    row = BookingSettings.objects.create(company=company, services="Drain cleaning")
    client = Client()
    assert _get(client, _book(company))[0] == 200
    row.enabled = False
    row.save()
    clock.now += 1.01
    assert _get(client, _book(company))[0] == 404
    # Not remembered as missing: turned back on, it shows on the next request.
    row.enabled = True
    row.save()
    assert _get(client, _book(company))[0] == 200
    slug = company.slug
    Company.objects.filter(pk=company.pk).delete()
    clock.now += 1.01
    status, _body, queries = _get(client, f"/book/{slug}/")
    assert status == 404
    status, _body, queries = _get(client, f"/book/{slug}/")
    assert (status, queries) == (404, 1)  # a miss is looked up every time


def test_a_post_never_uses_the_remembered_company(company, clock):
    row = BookingSettings.objects.create(company=company, services="Drain cleaning")
    client = Client()
    assert _get(client, _book(company))[0] == 200
    row.enabled = False
    row.save()
    # Within the second the GET may still show the form, but nothing can be booked.
    assert _get(client, _book(company))[0] == 200
    assert client.post(_book(company), {"name": "Sam"}).status_code == 404
    assert client.get(f"{_book(company)}?x=1").status_code == 404  # nor a rendered GET


def test_unknown_slugs_are_not_kept(clock):
    client = Client()
    for n in range(3):
        status, _body, queries = _get(client, f"/book/nobody-{n}/")
        assert (status, queries) == (404, 1)
    assert booking_selectors._RECENT.entries == {}


# --- Review landing page -----------------------------------------------------------------------


# Openings are written inline in tests (tasks run eagerly); a prefetch records none, so these
# requests show the lookup's queries alone (openings: see the test below).
QUIET = {"Sec-Purpose": "prefetch"}


def _link(customer) -> tuple[str, str]:
    customer.company.google_review_url = "https://search.google.example/writereview?x=1"
    customer.company.save(update_fields=["google_review_url"])
    path = re.search(r"/r/[^/]+/$", reviews.review_link_for(customer=customer)).group(0)
    return path, path.split("/")[2]


def test_a_review_link_is_looked_up_once_a_second_and_changes_show_after_it(customer, clock):
    link, token = _link(customer)
    client = Client()
    status, body, queries = _get(client, link, **QUIET)
    assert (status, queries) == (200, 1)
    status, body, queries = _get(client, link, **QUIET)
    assert (status, queries) == (200, 0)
    company = customer.company
    Company.objects.filter(pk=company.pk).update(
        name="Birch Heating", google_review_url="", brand_color="#123456"
    )
    clock.now += 1.01
    status, body, queries = _get(client, link, **QUIET)
    assert (status, queries) == (200, 1)
    assert "Thanks for choosing Birch Heating!" in body
    assert f'href="{link}go/"' not in body  # no Google link any more: no button
    assert "#123456" in body
    # The remembered row is keyed by the token's hash, never the token.
    keys = list(review_selectors._RECENT.entries)
    assert keys == [token_hash(token)]
    assert all(token not in repr(key) for key in keys)


def test_a_deleted_review_request_is_a_404_after_the_second_and_clicks_never_wait(customer, clock):
    link, _token = _link(customer)
    client = Client()
    assert _get(client, link, **QUIET)[0] == 200
    ReviewRequest.objects.filter(customer=customer).delete()
    # The click page looks the row up afresh: gone at once.
    assert client.get(f"{link}go/").status_code == 404
    clock.now += 1.01
    status, body, _queries = _get(client, link, **QUIET)
    assert status == 404
    miss = Client().get("/r/" + "x" * 43 + "/").content.decode()
    assert _plain(miss) == _plain(body)  # the generic miss


def test_unknown_tokens_are_looked_up_every_time_and_not_kept(customer, clock):
    client = Client()
    for n in range(3):
        status, _body, queries = _get(client, f"/r/{'A' * 42}{n}/", **QUIET)
        assert status == 404
        assert queries == 1
    assert review_selectors._RECENT.entries == {}


def test_openings_are_still_counted_when_the_row_is_remembered(customer, clock):
    link, _token = _link(customer)
    client = Client()
    for _ in range(3):
        assert client.get(link).status_code == 200
    # Tasks run inline in tests: each opening's flush writes at once.
    assert ReviewRequest.objects.get(customer=customer).open_count == 3


def test_the_landing_page_carries_no_csrf_token_and_sets_no_cookie(customer, settings):
    link, _token = _link(customer)
    response = Client().get(link)
    assert response.status_code == 200
    assert "X-CSRFToken" not in response.content.decode()
    assert settings.CSRF_COOKIE_NAME not in response.cookies
    # The feedback page, which has a form, still has its token.
    feedback = Client().get(f"{link}feedback/")
    assert "csrfmiddlewaretoken" in feedback.content.decode()


# --- The store itself ----------------------------------------------------------------------------


def test_recent_keeps_found_values_for_the_setting_and_bounded(settings, clock):
    store = recent.Recent(size=2)
    calls: list[str] = []

    def lookup(value):
        def run():
            calls.append(value)
            return value

        return run

    assert store.get("a", lookup("a")) == "a"
    assert store.get("a", lookup("a2")) == "a"
    clock.now += 1
    assert store.get("a", lookup("a3")) == "a3"
    store.get("b", lookup("b"))
    store.get("c", lookup("c"))
    assert list(store.entries) == ["b", "c"]  # the oldest dropped
    assert store.get("d", lambda: None) is None and "d" not in store.entries
    settings.PUBLIC_ROW_SECONDS = 0
    assert store.get("b", lookup("b2")) == "b2"  # off: always looked up
    assert calls == ["a", "a3", "b", "c", "b2"]
