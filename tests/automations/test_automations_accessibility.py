"""axe-core (WCAG 2.2 AA) on the automations pages, at 1280 and 390 px, for an owner (the
editor) and an office member (read-only). Like tests/test_accessibility.py, its browser contexts
bypass the CSP so axe can be injected."""

from __future__ import annotations

import pytest
from django.urls import reverse

from automations.models import Automation
from tests.test_accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}


def test_automation_pages_have_no_serious_violations(
    live_server, page, login_as, owner, office, invoice
):
    automation = Automation.objects.get(company=owner.company, key="invoice_sent_sms")
    urls = [
        reverse("automations:list"),
        reverse("automations:detail", args=[automation.public_id]),
        reverse("automations:new"),
    ]
    for member, pages in ((owner, urls), (office, urls[:2])):
        login_as(member)
        for size in ({"width": 1280, "height": 900}, {"width": 390, "height": 844}):
            page.set_viewport_size(size)
            for url in pages:
                page.goto(live_server.url + url, wait_until="networkidle")
                problems = serious_violations(page)
                assert not problems, f"{url} {size}:\n" + "\n".join(problems)
