"""axe-core (WCAG 2.2 AA) on the review pages: the customer's landing page (phone), the unknown
link page, and the contractor's review pages. Like tests/test_accessibility.py, its browser
contexts bypass the CSP so axe can be injected."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviews import services
from tests.test_accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}


def _check(page, url: str) -> None:
    page.goto(url, wait_until="networkidle")
    problems = serious_violations(page)
    assert not problems, f"{url}:\n" + "\n".join(problems)


def test_review_pages_have_no_serious_violations(live_server, page, login_as, owner, customer, job):
    owner.company.google_review_url = "https://g.page/r/example/review"
    owner.company.save(update_fields=["google_review_url"])
    path = "/" + services.review_link_for(customer=customer).split("://", 1)[1].split("/", 1)[1]
    page.set_viewport_size({"width": 390, "height": 844})
    _check(page, live_server.url + path)
    _check(page, live_server.url + path + "feedback/")
    _check(page, live_server.url + "/r/this-is-not-a-real-link-at-all-0000000000000/")
    login_as(owner)
    page.set_viewport_size({"width": 1280, "height": 900})
    for url in (
        reverse("reviews_dashboard:review_list"),
        reverse("reviews_dashboard:review_settings"),
        reverse("reviews_dashboard:customer_panel", args=[customer.public_id]),
        reverse("reviews_dashboard:job_panel", args=[job.public_id]),
        customer.get_absolute_url(),
    ):
        _check(page, live_server.url + url)
