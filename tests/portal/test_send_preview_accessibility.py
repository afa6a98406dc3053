"""axe-core on the send preview (issue 12, point 7): the dialog, with and without an error, and
the page it is without JavaScript. Its own module: axe is injected, so the CSP is bypassed here
(see tests/test_accessibility.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import EstimateFactory
from tests.test_accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}


def test_the_send_preview_has_no_serious_violations(live_server, login_as, owner, customer):
    estimate = EstimateFactory(customer=customer, sent=False)
    page = login_as(owner)
    send_url = reverse("documents:estimate_action", args=[estimate.public_id, "send"])
    page.goto(live_server.url + send_url, wait_until="networkidle")
    assert not serious_violations(page)

    page.goto(live_server.url + estimate.get_absolute_url(), wait_until="networkidle")
    page.get_by_role("button", name="Send", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Personal note").fill("Call me \u202eback")
    dialog.get_by_role("button", name=f"Send to {customer.email}").click()
    dialog.locator(".field-error").wait_for()
    assert not serious_violations(page)
