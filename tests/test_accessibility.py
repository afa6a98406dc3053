"""WCAG 2.2 AA checks with axe-core in real Chromium, on the pages people use most.

axe-core (MPL-2.0) is vendored for tests only in tests/vendor/axe-core/ by scripts/vendor-static.
It is injected as a script, so this module's browser contexts bypass the page's CSP; every other
browser test runs with the CSP on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import EstimateFactory, InvoiceFactory
from tests.portal.helpers import issue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}


def serious_violations(page) -> list[str]:
    page.add_script_tag(content=AXE)
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", RULES
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def _check(page, url: str) -> None:
    page.goto(url, wait_until="networkidle")
    problems = serious_violations(page)
    assert not problems, f"{url}:\n" + "\n".join(problems)


def test_dashboard_pages_have_no_serious_violations(live_server, login_as, owner, customer, job):
    from crewcommand.lib.activity import Actor
    from documents import services

    actor = Actor.member(owner.user)
    estimate = EstimateFactory(customer=customer)
    invoice = services.invoice_create(company=owner.company, customer=customer, actor=actor)
    page = login_as(owner)
    base = live_server.url
    for url in [
        reverse("dashboard:home"),
        reverse("dashboard:customer_list"),
        reverse("dashboard:customer_create"),
        customer.get_absolute_url(),
        job.get_absolute_url(),
        reverse("dashboard:job_week"),
        reverse("documents:estimate_list"),
        estimate.get_absolute_url(),
        reverse("documents:invoice_list"),
        invoice.get_absolute_url(),
        reverse("billing_dashboard:payment_list"),
    ]:
        _check(page, base + url)


def test_public_and_portal_pages_have_no_serious_violations(live_server, page, customer):
    page.set_viewport_size({"width": 390, "height": 844})
    estimate = EstimateFactory(customer=customer)
    invoice = InvoiceFactory(customer=customer)
    base = live_server.url
    for url in [
        reverse("login"),
        reverse("signup"),
        issue(customer, estimate).path,
        issue(customer, invoice).path,
        issue(customer).path,
        "/p/this-is-not-a-real-link-at-all-0000000000000/",
    ]:
        _check(page, base + url)
