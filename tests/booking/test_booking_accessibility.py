"""axe-core (WCAG 2.2 AA) on the booking pages in real Chromium: the public page (empty and
with errors), its confirmation, the portal's request page, the inbox and a request's page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from booking import services
from tests.browser import PHONE
from tests.portal.helpers import issue
from tests.test_accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}


def _check(page, url: str) -> None:
    page.goto(url, wait_until="networkidle")
    problems = serious_violations(page)
    assert not problems, f"{url}:\n" + "\n".join(problems)


def test_booking_pages_have_no_serious_violations(live_server, page, login_as, owner, customer):
    page.set_viewport_size(PHONE)
    base = live_server.url
    book = base + reverse("booking_public:book", args=[customer.company.slug])
    _check(page, book)
    page.get_by_role("button", name="Send request").click()
    page.wait_for_load_state()
    assert page.locator(".field-error").count() >= 3
    problems = serious_violations(page)
    assert not problems, "\n".join(problems)
    _check(page, base + reverse("booking_public:sent", args=[customer.company.slug]))
    _check(page, base + issue(customer).path)
    _check(page, base + issue(customer).path + "request/")
    request = services.request_submit(
        company=customer.company,
        data=services.RequestIn(
            name="Sam",
            phone="+14165550123",
            email="",
            address="1 Main St",
            service="Other",
            description="Leak",
            preferred=[],
            marketing_email=False,
            marketing_sms=False,
        ),
    )
    login_as(owner)
    for size in (PHONE, {"width": 1280, "height": 900}):
        page.set_viewport_size(size)
        _check(page, base + reverse("booking:inbox"))
        _check(page, base + reverse("booking:request_detail", args=[request.public_id]))
        _check(page, base + reverse("booking:page_settings"))
