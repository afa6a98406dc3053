"""Issue 12, point 16: the customer's option picks (package choices, add-ons) are kept in the
estimate page's URL, so a reload keeps them; without JavaScript, "Update the total" posts them
and is redirected to that URL. Neither writes anything."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from documents.models import EstimateStatus
from tests.portal.helpers import sign

pytestmark = pytest.mark.django_db


def _url(name, issued, estimate):
    return reverse(f"portal:{name}", args=[issued.token, estimate.public_id])


def _lines(estimate):
    return {line.description: line for line in estimate.current_revision.lines.all()}


def _checked(body: str) -> set[str]:
    """The public ids of the checked option inputs on the page."""
    return set(re.findall(r'value="([a-z0-9]+)" checked', body))


def _writes(queries) -> list[str]:
    return [
        q["sql"].split(" ")[0] + " " + q["sql"].split(" ")[1]
        for q in queries
        if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def test_the_page_shows_the_picks_in_its_url(phone, estimate, estimate_link):
    lines = _lines(estimate)
    tankless, softener = lines["Tankless heater"].public_id, lines["Water softener"].public_id
    url = _url("estimate", estimate_link, estimate)
    body = phone.get(f"{url}?picks=1&choice-1={tankless}&optional={softener}").content.decode()
    assert _checked(body) == {tankless, softener}  # and not the pre-selected expansion tank
    assert "$5,248.85" in body  # tankless + softener, without the expansion tank
    default = phone.get(url).content.decode()
    assert _checked(default) == {
        lines["50-gallon tank"].public_id,
        lines["Expansion tank"].public_id,
    }
    assert "$2,457.75" in default


def test_no_add_on_at_all_is_a_choice_too(phone, estimate, estimate_link):
    lines = _lines(estimate)
    body = phone.get(_url("estimate", estimate_link, estimate) + "?picks=1").content.decode()
    assert _checked(body) == {lines["50-gallon tank"].public_id}  # the group's default only


def test_nonsense_picks_fall_back_to_the_defaults(phone, estimate, estimate_link, customer):
    from tests.factories import EstimateFactory

    other = _lines(EstimateFactory(customer=customer))["Tankless heater"].public_id
    lines = _lines(estimate)
    url = _url("estimate", estimate_link, estimate)
    response = phone.get(
        f"{url}?picks=1&choice-1={other}&choice-9=x&optional={lines['Installation labour'].public_id}"
        "&optional=%00&choice-1=" + "a" * 5000
    )
    assert response.status_code == 200
    assert _checked(response.content.decode()) == {lines["50-gallon tank"].public_id}


def test_picks_in_the_url_add_no_write(phone, estimate, estimate_link):
    lines = _lines(estimate)
    url = _url("estimate", estimate_link, estimate)
    phone.get(url)  # the first view marks the estimate viewed
    with CaptureQueriesContext(connection) as plain:
        phone.get(url)
    with CaptureQueriesContext(connection) as picked:
        phone.get(f"{url}?picks=1&choice-1={lines['Tankless heater'].public_id}")
    assert _writes(picked.captured_queries) == _writes(plain.captured_queries)
    # Only what every visit writes: the link's view count (and the sent → viewed check).
    assert set(_writes(plain.captured_queries)) <= {
        'UPDATE "portal_portallink"',
        'UPDATE "documents_estimate"',
    }
    estimate.refresh_from_db()
    assert estimate.accepted_selection == {}


def test_update_the_total_without_javascript_redirects_to_the_picks(phone, estimate, estimate_link):
    lines = _lines(estimate)
    tankless, softener = lines["Tankless heater"].public_id, lines["Water softener"].public_id
    with CaptureQueriesContext(connection) as queries:
        response = phone.post(
            _url("estimate_choose", estimate_link, estimate),
            {
                "picks": "1",
                "choice-1": tankless,
                "optional": [softener, lines["Expansion tank"].public_id],
                "signer_name": "Alice",
                "revision": "1",
            },
        )
    assert _writes(queries.captured_queries) == []
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(_url("estimate", estimate_link, estimate) + "?picks=1&")
    assert location.endswith("#totals") and "Alice" not in location and "csrf" not in location
    body = phone.get(location.split("#")[0]).content.decode()
    assert _checked(body) == {tankless, softener, lines["Expansion tank"].public_id}
    assert "$5,435.30" in body


def test_update_the_total_needs_the_csrf_token_and_post(estimate, estimate_link):
    client = Client(enforce_csrf_checks=True)
    url = _url("estimate_choose", estimate_link, estimate)
    assert client.post(url, {"picks": "1"}).status_code == 403
    assert client.get(url).status_code == 405


def test_the_no_javascript_button_is_on_the_page(phone, estimate, estimate_link):
    body = phone.get(_url("estimate", estimate_link, estimate)).content.decode()
    noscript = body[body.index("<noscript><div") :]
    noscript = noscript[: noscript.index("</noscript>")]
    assert _url("estimate_choose", estimate_link, estimate) in noscript
    assert "Update the total" in noscript and "formnovalidate" in noscript


def test_an_accepted_estimate_shows_what_was_signed_whatever_the_url(
    phone, estimate, estimate_link
):
    lines = _lines(estimate)
    sign(estimate, estimate_link)
    estimate.refresh_from_db()
    assert estimate.status == EstimateStatus.ACCEPTED
    body = phone.get(
        _url("estimate", estimate_link, estimate)
        + f"?picks=1&choice-1={lines['Tankless heater'].public_id}"
    ).content.decode()
    assert lines["Tankless heater"].public_id not in _checked(body)
